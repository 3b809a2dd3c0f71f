// The exit codes of `meshwork` (README "Exit codes"): one per kind of outcome, so scripts can
// tell a failed job from a typo from a node that is not running.

export const EXIT = {
  /** Done. */
  ok: 0,
  /** The job failed or was cancelled (submit, result). */
  jobFailed: 1,
  /** A bad command line, config file, job module or input: fix the command. */
  usage: 2,
  /** No such job (or its result is no longer held). */
  notFound: 3,
  /** No node to talk to: none running in the data dir, none answering at --api, or the API token missing or wrong. */
  noNode: 4,
  /** The node refused or cannot do it now: not allowed, over a limit, already finished, still running, no capacity. */
  refused: 5,
  /** A bug in meshwork (the message says what; MESHWORK_DEBUG=1 prints the stack). */
  internal: 70,
} as const
