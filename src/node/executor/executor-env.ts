// What an executor's environment holds: an allowlist, never the daemon's environment (cloud keys,
// tokens and the like live there). Task code sees PATH, LANG, TZ, HOME (its workspace) and the
// variables its own job module names; the executor's settings (MESHWORK_EXECUTOR_*) are the node's.

const PASSED = ['PATH', 'LANG', 'TZ'] as const
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

export function executorEnv (opts: {
  /** The daemon's environment, read for the allowlisted names only. */
  from: NodeJS.ProcessEnv
  home: string | undefined
  jobEnv: Readonly<Record<string, string>>
  settings: Readonly<Record<string, string>>
}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of PASSED) {
    const v = opts.from[name]
    if (v !== undefined) env[name] = v
  }
  env.PATH ??= DEFAULT_PATH
  env.HOME = opts.home ?? '/tmp'
  return { ...env, ...opts.jobEnv, ...opts.settings }
}
