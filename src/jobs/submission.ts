import type { JobRecord } from './job-spec.js'

// The submitter's side of a job, as a sans-IO core. The submitter's node keeps what it sent
// until the job's task table is replicated (the record says `running` and every backup
// acknowledged its replica). If the coordinator dies (or restarts) before that, no backup can
// take over, so the job is sent again, under a higher term, to the next live candidate in
// election order. Submission terms are odd (1, 3, 5…) and claim terms even
// (replica-set.ts's nextClaimTerm): a re-sent job and a backup's claim never share a term. A
// coordinator that never accepts the job in time is passed over the same way. The client is
// answered once a coordinator accepts the job (and the standby, when there is one, holds a copy).
// `P` is what a re-send carries (the node: spec, code and input; the simulator: nothing).
// src/node/daemon/job-submissions.ts and sim/arch/submitter.ts bind it.

interface Submission<P> {
  jobId: string
  payload: P
  standby: string | undefined
  coordinator: string
  coordinatorBoot: string | undefined
  term: number
  tried: Set<string>
  isAccepted: boolean
  /** Until the standby node confirms it holds a copy (only when we coordinate our own submission). */
  standbyPending: boolean
  sentMs: number
}

export type SubmissionEffect<P> =
  | { type: 'submit', to: string, jobId: string, term: number, payload: P }
  /** Ask `to` to hold a copy of the submission (we coordinate it ourselves). */
  | { type: 'standby', to: string, jobId: string, payload: P }
  /** Answer the client: a coordinator has the job. */
  | { type: 'answer', jobId: string }
  /** The coordinator refused the job: the submission fails with this reason. */
  | { type: 'reject', jobId: string, error: string }
  /** The job went to another coordinator under a higher term. */
  | { type: 'reassigned', jobId: string, coordinator: string, term: number }
  /** Nothing more to do here: the job is replicated (or final), or it was refused. */
  | { type: 'settled', jobId: string }
  | { type: 'log', level: 'warn', msg: string, fields: Record<string, unknown> }

/** Reads of the binding's view: no effects. */
export interface SubmissionView {
  /** The boot id of a live peer, undefined if it is not alive. */
  liveBoot: (peerId: string) => string | undefined
  /** Candidates in election order for the job. */
  rank: (jobId: string) => readonly string[]
  /** The job's record as this node knows it. */
  record: (jobId: string) => Pick<JobRecord, 'state' | 'replicated'> | undefined
}

export interface SubmissionConfig {
  pendingMax?: number
  /** Without an acceptance this long, the job goes to the next node. */
  acceptTimeoutMs?: number
}

export class Submissions<P> {
  private readonly pending = new Map<string, Submission<P>>()
  private out: Array<SubmissionEffect<P>> = []

  constructor (private readonly view: SubmissionView, private readonly config: SubmissionConfig) {}

  get size (): number { return this.pending.size }
  get full (): boolean { return this.pending.size >= (this.config.pendingMax ?? 1000) }
  jobIds (): IterableIterator<string> { return this.pending.keys() }
  has (jobId: string): boolean { return this.pending.has(jobId) }

  /** Send the job to its coordinator under term 1 (check `full` first). */
  submit (jobId: string, payload: P, coordinator: string, standby: string | undefined, now: number): Array<SubmissionEffect<P>> {
    this.pending.set(jobId, {
      jobId, payload, standby, coordinator, coordinatorBoot: this.view.liveBoot(coordinator), term: 1, tried: new Set([coordinator]), isAccepted: false,
      standbyPending: standby !== undefined, sentMs: now,
    })
    this.out.push({ type: 'submit', to: coordinator, jobId, term: 1, payload })
    if (standby !== undefined) this.out.push({ type: 'standby', to: standby, jobId, payload })
    return this.flush()
  }

  /** As the standby: hold another node's submission, which it coordinates itself, until it is replicated. */
  hold (jobId: string, payload: P, submitter: string, now: number): void {
    if (this.pending.has(jobId) || this.full) return
    this.pending.set(jobId, {
      jobId, payload, standby: undefined, coordinator: submitter, coordinatorBoot: this.view.liveBoot(submitter), term: 1, tried: new Set([submitter]),
      isAccepted: true, standbyPending: false, sentMs: now,
    })
  }

  /** The coordinator refused the job: the submission fails with its reason (no other node is tried). */
  onRejected (from: string, jobId: string, term: number, error: string): Array<SubmissionEffect<P>> {
    const s = this.pending.get(jobId)
    if (s === undefined || s.coordinator !== from || s.term !== term || s.isAccepted) return this.flush()
    this.pending.delete(jobId)
    this.out.push({ type: 'reject', jobId, error: `${from} refused the job: ${error}` }, { type: 'settled', jobId })
    return this.flush()
  }

  onStandbyAck (from: string, jobId: string): Array<SubmissionEffect<P>> {
    const s = this.pending.get(jobId)
    if (s === undefined || s.standby !== from) return this.flush()
    s.standbyPending = false
    if (s.isAccepted) this.out.push({ type: 'answer', jobId })
    return this.flush()
  }

  onAccepted (from: string, jobId: string, term: number): Array<SubmissionEffect<P>> {
    const s = this.pending.get(jobId)
    if (s !== undefined && s.coordinator === from && s.term === term) {
      s.isAccepted = true
      if (!s.standbyPending) this.out.push({ type: 'answer', jobId })
    }
    return this.flush()
  }

  tick (now: number): Array<SubmissionEffect<P>> {
    const acceptTimeoutMs = this.config.acceptTimeoutMs ?? 10_000
    for (const [jobId, s] of this.pending) {
      if (s.standbyPending && now - s.sentMs >= acceptTimeoutMs / 2) {
        // The standby never confirmed (down, or the message was lost): answer without it.
        this.out.push({ type: 'log', level: 'warn', msg: 'standby did not confirm the submission copy', fields: { jobId, standby: s.standby } })
        s.standbyPending = false
        if (s.isAccepted) this.out.push({ type: 'answer', jobId })
      }
      if (replicated(this.view.record(jobId))) {
        // Split and replicated: answer the client even if an acceptance or the standby's ack never came.
        this.out.push({ type: 'answer', jobId }, { type: 'settled', jobId })
        this.pending.delete(jobId)
        continue
      }
      // Alive and the same process as when we sent it the job (a restart forgets jobs), and
      // either it accepted the job or there is still time for it to.
      const boot = this.view.liveBoot(s.coordinator)
      if (boot !== undefined && boot === s.coordinatorBoot && (s.isAccepted || now - s.sentMs < acceptTimeoutMs)) continue
      const ranked = this.view.rank(jobId)
      const next = ranked.find(p => !s.tried.has(p) && this.view.liveBoot(p) !== undefined) ?? ranked.find(p => this.view.liveBoot(p) !== undefined)
      if (next === undefined) continue
      s.term += 2 // odd: never a claim's term
      s.coordinator = next
      s.coordinatorBoot = this.view.liveBoot(next)
      s.isAccepted = false
      s.sentMs = now
      s.tried.add(next)
      this.out.push({ type: 'log', level: 'warn', msg: 'coordinator died before the job was replicated: submitting again', fields: { jobId, coordinator: next, term: s.term } })
      this.out.push({ type: 'reassigned', jobId, coordinator: next, term: s.term })
      this.out.push({ type: 'submit', to: next, jobId, term: s.term, payload: s.payload })
    }
    return this.flush()
  }

  private flush (): Array<SubmissionEffect<P>> {
    const out = this.out
    this.out = []
    return out
  }
}

/** Split and replicated (or already final): nothing left that only the submitter holds. */
export function replicated (record: Pick<JobRecord, 'state' | 'replicated'> | undefined): boolean {
  if (record === undefined || record.state === 'pending' || record.state === 'splitting') return false
  return record.state === 'done' || record.state === 'failed' || record.state === 'cancelled' || record.replicated !== false
}
