import type { JobInput, JobRecord, JobSpec } from '../jobs/job-spec.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { Logger } from './logger.js'

// The submitter's node keeps what it sent until the job's task table is replicated (the
// record says `running`). If the coordinator dies before that — while splitting — no backup
// can take over, so the job is sent again, under a higher term, to the next live node.

interface Submission {
  spec: JobSpec
  code: string
  input: JobInput
  coordinator: string
  coordinatorBoot: string | undefined
  term: number
  tried: Set<string>
  /** Resolved when a coordinator confirms it has the job. */
  accepted: () => void
  /** Fails the submission (a coordinator refused the job). */
  rejected: (err: Error) => void
  isAccepted: boolean
  /** Until the standby node confirms it holds a copy (only when we coordinate our own submission). */
  standbyPending: boolean
  sentMs: number
}

export interface JobSubmissionsOptions {
  send: (peerId: string, message: RpcMessage) => void
  record: (jobId: string) => JobRecord | undefined
  /** Note that the job now has another coordinator. */
  reassigned: (jobId: string, coordinator: string, term: number) => void
  /** The boot id of a live peer, undefined if it is not alive. */
  liveBoot: (peerId: string) => string | undefined
  /** Candidates in election order for the job. */
  rank: (jobId: string) => string[]
  log: Logger
  nowMs: () => number
  pendingMax?: number
  /** Without an acceptance this long, the job goes to the next node. */
  acceptTimeoutMs?: number
}

export class SubmissionsFullError extends Error {}
/** A coordinator refused the job: the submitter is not allowed, or is over its limits. */
export class SubmissionRejectedError extends Error {}

export class JobSubmissions {
  private readonly pending = new Map<string, Submission>()

  constructor (private readonly opts: JobSubmissionsOptions) {}

  /** Send the job to its coordinator; resolves once a coordinator confirms it has it. */
  async submit (spec: JobSpec, code: string, input: JobInput, coordinator: string): Promise<void> {
    if (this.pending.size >= (this.opts.pendingMax ?? 1000)) throw new SubmissionsFullError(`this node already holds ${this.pending.size} jobs that are not yet replicated; retry shortly`)
    await new Promise<void>((resolve, reject) => {
      this.pending.set(spec.jobId, {
        spec, code, input, coordinator, coordinatorBoot: this.opts.liveBoot(coordinator), term: 1, tried: new Set([coordinator]), accepted: resolve, rejected: reject, isAccepted: false,
        standbyPending: spec.standby !== undefined, sentMs: this.opts.nowMs(),
      })
      this.opts.send(coordinator, { t: 'job.submit', spec, code, input, term: 1 })
      if (spec.standby !== undefined) this.opts.send(spec.standby, { t: 'job.standby', spec, code, input })
    })
  }

  /** As the standby: hold another node's submission, which it coordinates itself, until it is replicated. */
  hold (spec: JobSpec, code: string, input: JobInput): void {
    if (this.pending.has(spec.jobId) || this.pending.size >= (this.opts.pendingMax ?? 1000)) return
    this.pending.set(spec.jobId, {
      spec, code, input, coordinator: spec.submitter, coordinatorBoot: this.opts.liveBoot(spec.submitter), term: 1, tried: new Set([spec.submitter]),
      accepted: () => {}, rejected: () => {}, isAccepted: true, standbyPending: false, sentMs: this.opts.nowMs(),
    })
  }

  /** The coordinator refused the job: the submission fails with its reason (no other node is tried). */
  onRejected (from: string, jobId: string, term: number, error: string): boolean {
    const s = this.pending.get(jobId)
    if (s === undefined || s.coordinator !== from || s.term !== term || s.isAccepted) return false
    this.pending.delete(jobId)
    s.rejected(new SubmissionRejectedError(`${from} refused the job: ${error}`))
    return true
  }

  onStandbyAck (from: string, jobId: string): void {
    const s = this.pending.get(jobId)
    if (s === undefined || s.spec.standby !== from) return
    s.standbyPending = false
    if (s.isAccepted) s.accepted()
  }

  onAccepted (from: string, jobId: string, term: number): void {
    const s = this.pending.get(jobId)
    if (s !== undefined && s.coordinator === from && s.term === term) {
      s.isAccepted = true
      if (!s.standbyPending) s.accepted()
    }
  }

  tick (): void {
    const now = this.opts.nowMs()
    for (const [jobId, s] of this.pending) {
      if (s.standbyPending && now - s.sentMs >= (this.opts.acceptTimeoutMs ?? 10_000) / 2) {
        // The standby never confirmed (down, or the message was lost): answer without it.
        this.opts.log.warn({ jobId, standby: s.spec.standby }, 'standby did not confirm the submission copy')
        s.standbyPending = false
        if (s.isAccepted) s.accepted()
      }
      const record = this.opts.record(jobId)
      if (record !== undefined && record.state !== 'pending' && record.state !== 'splitting') {
        // Split and replicated: answer the client even if an acceptance or the standby's ack never came.
        s.accepted()
        this.pending.delete(jobId)
        continue
      }
      // Alive and the same process as when we sent it the job (a restart forgets jobs), and
      // either it accepted the job or there is still time for it to.
      const boot = this.opts.liveBoot(s.coordinator)
      const waitedMs = this.opts.nowMs() - s.sentMs
      if (boot !== undefined && boot === s.coordinatorBoot && (s.isAccepted || waitedMs < (this.opts.acceptTimeoutMs ?? 10_000))) continue
      const next = this.opts.rank(jobId).find(p => !s.tried.has(p) && this.opts.liveBoot(p) !== undefined) ??
        this.opts.rank(jobId).find(p => this.opts.liveBoot(p) !== undefined)
      if (next === undefined) continue
      s.term++
      s.coordinator = next
      s.coordinatorBoot = this.opts.liveBoot(next)
      s.isAccepted = false
      s.sentMs = this.opts.nowMs()
      s.tried.add(next)
      this.opts.log.warn({ jobId, coordinator: next, term: s.term }, 'coordinator died before the job was replicated: submitting again')
      this.opts.reassigned(jobId, next, s.term)
      this.opts.send(next, { t: 'job.submit', spec: s.spec, code: s.code, input: s.input, term: s.term })
    }
  }
}
