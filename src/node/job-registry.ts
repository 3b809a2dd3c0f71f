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
  private readonly updatedAt = new Map<string, number>()

  constructor (private readonly opts: JobRegistryOptions) {}

  get (jobId: string): JobRecord | undefined { return this.records.get(jobId) }

  list (): JobRecord[] { return [...this.records.values()] }

  /**
   * Take the record unless ours says more: a final record beats any unfinished one, whatever
   * its term (the result was committed by a majority, and only one term can be: a resubmitted
   * job may be finished by its first coordinator while this node expects a later term);
   * otherwise the later term wins, and a final record is never replaced by an unfinished one.
   */
  upsert (record: JobRecord, nowMs: number): boolean {
    const old = this.records.get(record.jobId)
    if (old !== undefined) {
      const oldFinal = FINAL_STATES.has(old.state)
      const newFinal = FINAL_STATES.has(record.state)
      if (oldFinal && !newFinal) return false
      if (oldFinal === newFinal && record.term < old.term) return false
    }
    this.records.delete(record.jobId)
    this.records.set(record.jobId, record)
    this.updatedAt.set(record.jobId, nowMs)
    if (FINAL_STATES.has(record.state) && !this.finishedAt.has(record.jobId)) this.finishedAt.set(record.jobId, nowMs)
    this.evict(nowMs)
    return true
  }

  /**
   * Unfinished records nobody has updated for `ageMs`: their updates may have been lost (a
   * partition, a coordinator that died or yielded), so the node asks the mesh about them.
   */
  stale (nowMs: number, ageMs: number): JobRecord[] {
    return [...this.records.values()].filter(r => !FINAL_STATES.has(r.state) && nowMs - (this.updatedAt.get(r.jobId) ?? 0) >= ageMs)
  }

  /** Count a look at the mesh as an update, so a job is not asked about again at once. */
  touch (jobId: string, nowMs: number): void {
    if (this.records.has(jobId)) this.updatedAt.set(jobId, nowMs)
  }

  private evict (nowMs: number): void {
    for (const [jobId, at] of this.finishedAt) {
      if (nowMs - at < this.opts.retentionMs && this.records.size <= this.opts.recordsMax) break
      this.finishedAt.delete(jobId)
      this.records.delete(jobId)
      this.updatedAt.delete(jobId)
    }
  }
}
