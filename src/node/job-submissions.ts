import type { JobInput, JobRecord, JobSpec } from '../jobs/job-spec.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { Logger } from './logger.js'

// The submitter's node keeps what it sent until the job's task table is replicated (the
// record says `running`). If the coordinator dies before that — while splitting — no backup
// can take over, so the job is sent again, under a higher term, to the next live node.

interface Submission { spec: JobSpec, code: string, input: JobInput, coordinator: string, term: number, tried: Set<string> }

export interface JobSubmissionsOptions {
  send: (peerId: string, message: RpcMessage) => void
  record: (jobId: string) => JobRecord | undefined
  /** Note that the job now has another coordinator. */
  reassigned: (jobId: string, coordinator: string, term: number) => void
  isAlive: (peerId: string) => boolean
  /** Candidates in election order for the job. */
  rank: (jobId: string) => string[]
  log: Logger
  pendingMax?: number
}

export class JobSubmissions {
  private readonly pending = new Map<string, Submission>()

  constructor (private readonly opts: JobSubmissionsOptions) {}

  submit (spec: JobSpec, code: string, input: JobInput, coordinator: string): void {
    if (this.pending.size >= (this.opts.pendingMax ?? 1000)) this.pending.delete(this.pending.keys().next().value as string)
    this.pending.set(spec.jobId, { spec, code, input, coordinator, term: 1, tried: new Set([coordinator]) })
    this.opts.send(coordinator, { t: 'job.submit', spec, code, input, term: 1 })
  }

  tick (): void {
    for (const [jobId, s] of this.pending) {
      const record = this.opts.record(jobId)
      if (record !== undefined && record.state !== 'pending' && record.state !== 'splitting') {
        this.pending.delete(jobId)
        continue
      }
      if (this.opts.isAlive(s.coordinator)) continue
      const next = this.opts.rank(jobId).find(p => !s.tried.has(p) && this.opts.isAlive(p))
      if (next === undefined) continue
      s.term++
      s.coordinator = next
      s.tried.add(next)
      this.opts.log.warn({ jobId, coordinator: next, term: s.term }, 'coordinator died before the job was replicated: submitting again')
      this.opts.reassigned(jobId, next, s.term)
      this.opts.send(next, { t: 'job.submit', spec: s.spec, code: s.code, input: s.input, term: s.term })
    }
  }
}
