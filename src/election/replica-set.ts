// Who may coordinate a job after its coordinator dies, and when a coordinator may publish
// the job's result. Pure: the binding feeds it membership and votes.
//
// Each job has a replica set fixed when it starts: [coordinator, backup1, …] (the election's
// order). A backup takes over only by a majority of that set accepting its higher term
// (a claim), and a coordinator publishes the result only after a majority accepts its commit.
// Any two majorities share a member, so a stale coordinator (paused, or cut off on the
// minority side of a partition) can never commit once another has taken over: exactly one
// result per job.

export interface ReplicaState {
  readonly jobId: string
  readonly replicaSet: readonly string[]
  /** The coordinator as this node knows it, and its term. */
  coordinator: string
  term: number
  /** The highest term this node has accepted a claim or commit for. */
  promisedTerm: number
  /** Set once this node accepted a commit: the job's result is decided. */
  committedTerm: number | undefined
}

export function quorumSize (replicaSetSize: number): number {
  return Math.floor(replicaSetSize / 2) + 1
}

export function newReplicaState (jobId: string, replicaSet: readonly string[], coordinator: string, term: number): ReplicaState {
  return { jobId, replicaSet: [...replicaSet], coordinator, term, promisedTerm: term, committedTerm: undefined }
}

/**
 * Should `selfId` claim the job? Only when the coordinator is not alive and every member
 * ranked before us (other than the coordinator) is not alive either — the first live backup.
 */
export function shouldClaim (state: ReplicaState, selfId: string, isAlive: (peerId: string) => boolean): boolean {
  if (state.committedTerm !== undefined || state.coordinator === selfId || isAlive(state.coordinator)) return false
  for (const member of state.replicaSet) {
    if (member === state.coordinator) continue
    if (member === selfId) return true
    if (isAlive(member)) return false
  }
  return false
}

/**
 * The term a claim asks for: the next even term above any this member knows. Claim terms are
 * even and a submitter's terms odd (1, 3, 5…: see src/jobs/submission.ts), so a job sent again
 * to another node never shares its term with a backup's claim — two coordinators of one term
 * could each win a commit majority, while of two different terms only the first can.
 */
export function nextClaimTerm (state: ReplicaState): number {
  const above = Math.max(state.term, state.promisedTerm) + 1
  return above % 2 === 0 ? above : above + 1
}

/**
 * A member answers a claim for `term`: yes only for a term above any it accepted before, and
 * never once the result is committed (the binding then sends the committed record instead).
 */
export function answerClaim (state: ReplicaState, term: number): { ok: boolean, promisedTerm: number } {
  if (state.committedTerm !== undefined || !(term > state.promisedTerm)) return { ok: false, promisedTerm: state.promisedTerm }
  state.promisedTerm = term
  return { ok: true, promisedTerm: term }
}

/** A member answers a commit: yes unless it has accepted a higher term (someone took over). */
export function answerCommit (state: ReplicaState, term: number): { ok: boolean, promisedTerm: number } {
  if (term < state.promisedTerm) return { ok: false, promisedTerm: state.promisedTerm }
  // One result per job: after accepting a commit, only the same term's commit is accepted again.
  if (state.committedTerm !== undefined && state.committedTerm !== term) return { ok: false, promisedTerm: decidedElsewhere(state, term) }
  state.promisedTerm = term
  state.committedTerm = term
  return { ok: true, promisedTerm: term }
}

/**
 * A member answers a coordinator that is about to reduce: is `term` still the job's term here?
 * Nothing is promised: it only spares a stale coordinator (back from a pause or a partition)
 * a reduce whose result could never be committed.
 */
export function answerConfirm (state: ReplicaState, term: number): { ok: boolean, promisedTerm: number } {
  if (state.committedTerm !== undefined && state.committedTerm !== term) return { ok: false, promisedTerm: decidedElsewhere(state, term) }
  return { ok: term >= state.promisedTerm, promisedTerm: state.promisedTerm }
}

/**
 * The term a refusal reports when the job's result was committed under another term: above the
 * asker's, so its tally counts the round as lost and it yields (then learns the committed
 * result) — a committed *lower* term, as when a resubmitted job's first coordinator finished
 * it, would otherwise leave the asker waiting for a majority forever.
 */
function decidedElsewhere (state: ReplicaState, term: number): number {
  return Math.max(state.promisedTerm, (state.committedTerm ?? 0) + 1, term + 1)
}

/** Learn of a coordinator under `term` (a takeover announcement or update); stale news is ignored. */
export function observeCoordinator (state: ReplicaState, coordinator: string, term: number): boolean {
  if (term < state.term) return false
  state.coordinator = coordinator
  state.term = term
  if (term > state.promisedTerm) state.promisedTerm = term
  return true
}

/** Counts yes-votes for one round (a claim or a commit) until a majority or a refusal decides it. */
export class VoteTally {
  private readonly yes = new Set<string>()
  private highestRefusedTerm = 0

  constructor (readonly replicaSet: readonly string[], readonly term: number, selfId: string) {
    if (replicaSet.includes(selfId)) this.yes.add(selfId)
  }

  /** Returns 'won' once a majority said yes, 'lost' once anyone refused with a higher term. */
  add (from: string, ok: boolean, promisedTerm: number): 'won' | 'lost' | 'pending' {
    if (!this.replicaSet.includes(from)) return this.outcome()
    if (ok) this.yes.add(from)
    else this.highestRefusedTerm = Math.max(this.highestRefusedTerm, promisedTerm)
    return this.outcome()
  }

  outcome (): 'won' | 'lost' | 'pending' {
    if (this.highestRefusedTerm > this.term) return 'lost'
    return this.yes.size >= quorumSize(this.replicaSet.length) ? 'won' : 'pending'
  }
}
