import { FINAL_STATES, type JobRecord } from '../jobs/job-spec.js'

// The jobs this node knows of — submitted through it, or coordinated by it — as records that
// `meshwork jobs` and `meshwork result` read. Finished records are kept for a while.

export interface JobRegistryOptions {
  retentionMs: number
  recordsMax: number
}

export class JobRegistry {
  private readonly records = new Map<string, JobRecord>()
  private readonly finishedAt = new Map<string, number>()

  constructor (private readonly opts: JobRegistryOptions) {}

  get (jobId: string): JobRecord | undefined { return this.records.get(jobId) }

  list (): JobRecord[] { return [...this.records.values()] }

  /** Keep the record unless ours is final and theirs is not, or theirs is from an older term. */
  upsert (record: JobRecord, nowMs: number): boolean {
    const old = this.records.get(record.jobId)
    if (old !== undefined) {
      if (record.term < old.term) return false
      if (FINAL_STATES.has(old.state) && !FINAL_STATES.has(record.state) && record.term === old.term) return false
    }
    this.records.delete(record.jobId)
    this.records.set(record.jobId, record)
    if (FINAL_STATES.has(record.state) && !this.finishedAt.has(record.jobId)) this.finishedAt.set(record.jobId, nowMs)
    this.evict(nowMs)
    return true
  }

  private evict (nowMs: number): void {
    for (const [jobId, at] of this.finishedAt) {
      if (nowMs - at < this.opts.retentionMs && this.records.size <= this.opts.recordsMax) break
      this.finishedAt.delete(jobId)
      this.records.delete(jobId)
    }
  }
}
