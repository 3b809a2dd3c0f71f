import type { JobInput, JobRecord, JobSpec } from '../../jobs/job-spec.js'
import { Submissions, type SubmissionEffect } from '../../jobs/submission.js'
import type { RpcMessage } from '../../jobs/wire.js'
import type { Logger } from '../host/logger.js'
import { MeshworkError } from '../../util/errors.js'

// The submitter's node, bound to the RPC layer and the API's waiting client. When to re-send
// a job and to whom is the Submissions core's (src/jobs/submission.ts), which the simulator
// runs too; this file sends what it says and answers the client's promise.

interface Held { spec: JobSpec, code: string, input: JobInput }

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

export class SubmissionsFullError extends MeshworkError { readonly code = 'submissions-full' }
/** A coordinator refused the job: the submitter is not allowed, or is over its limits. */
export class SubmissionRejectedError extends MeshworkError { readonly code = 'submission-rejected' }

export class JobSubmissions {
  private readonly core: Submissions<Held>
  /** The clients waiting for their jobs to be accepted. */
  private readonly waiting = new Map<string, { resolve: () => void, reject: (err: Error) => void }>()

  constructor (private readonly opts: JobSubmissionsOptions) {
    this.core = new Submissions<Held>(
      { liveBoot: opts.liveBoot, rank: opts.rank, record: opts.record },
      { ...(opts.pendingMax !== undefined ? { pendingMax: opts.pendingMax } : {}), ...(opts.acceptTimeoutMs !== undefined ? { acceptTimeoutMs: opts.acceptTimeoutMs } : {}) },
    )
  }

  /** Send the job to its coordinator; resolves once a coordinator confirms it has it. */
  async submit (spec: JobSpec, code: string, input: JobInput, coordinator: string): Promise<void> {
    if (this.core.full) throw new SubmissionsFullError(`this node already holds ${this.core.size} jobs that are not yet replicated; retry shortly`)
    await new Promise<void>((resolve, reject) => {
      this.waiting.set(spec.jobId, { resolve, reject })
      this.apply(this.core.submit(spec.jobId, { spec, code, input }, coordinator, spec.standby, this.opts.nowMs()))
    })
  }

  /** As the standby: hold another node's submission, which it coordinates itself, until it is replicated. */
  hold (spec: JobSpec, code: string, input: JobInput): void {
    this.core.hold(spec.jobId, { spec, code, input }, spec.submitter, this.opts.nowMs())
  }

  /** The coordinator refused the job: the submission fails with its reason (no other node is tried). */
  onRejected (from: string, jobId: string, term: number, error: string): boolean {
    const effects = this.core.onRejected(from, jobId, term, error)
    this.apply(effects)
    return effects.length > 0
  }

  onStandbyAck (from: string, jobId: string): void { this.apply(this.core.onStandbyAck(from, jobId)) }
  onAccepted (from: string, jobId: string, term: number): void { this.apply(this.core.onAccepted(from, jobId, term)) }
  tick (): void { this.apply(this.core.tick(this.opts.nowMs())) }

  private apply (effects: Array<SubmissionEffect<Held>>): void {
    for (const e of effects) {
      switch (e.type) {
        case 'submit': this.opts.send(e.to, { t: 'job.submit', spec: e.payload.spec, code: e.payload.code, input: e.payload.input, term: e.term }); break
        case 'standby': this.opts.send(e.to, { t: 'job.standby', spec: e.payload.spec, code: e.payload.code, input: e.payload.input }); break
        case 'answer': this.waiting.get(e.jobId)?.resolve(); break
        case 'reject': this.waiting.get(e.jobId)?.reject(new SubmissionRejectedError(e.error)); break
        case 'reassigned': this.opts.reassigned(e.jobId, e.coordinator, e.term); break
        case 'settled': this.waiting.delete(e.jobId); break
        case 'log': this.opts.log[e.level](e.fields, e.msg); break
      }
    }
  }
}
