import { FINAL_STATES, type JobRecord } from '../../jobs/job-spec.js'

// The jobs this node knows of — submitted through it, or coordinated by it — as records that
// `meshwork jobs` and `meshwork result` read. Finished records are kept for a while.

export interface JobRegistryOptions {
  retentionMs: number
  recordsMax: number
  /** Called for every final record taken; `first` when the job had not finished here before (as far as the registry remembers). */
  onFinal?: (record: JobRecord, first: boolean) => void
}

/** Which final record wins over another of the same job (see JobRegistry.upsert). */
const FINAL_RANK: Record<string, number> = { cancelled: 1, failed: 2, done: 3 }

/** Most clients waiting at once for a record to change (a long poll beyond it is answered at once). */
export const WAITERS_MAX = 10_000

export class JobRegistry {
  private readonly records = new Map<string, JobRecord>()
  private readonly finishedAt = new Map<string, number>()
  private readonly updatedAt = new Map<string, number>()
  /** jobId → clients waiting for its record to change (long polls of GET /jobs/:id?wait=). */
  private readonly waiters = new Map<string, Set<() => void>>()
  private waiting = 0

  constructor (private readonly opts: JobRegistryOptions) {}

  get (jobId: string): JobRecord | undefined { return this.records.get(jobId) }

  list (): JobRecord[] { return [...this.records.values()] }

  /**
   * Take the record unless ours says more: a final record beats any unfinished one, whatever
   * its term (the result was committed by a majority, and only one term can be: a resubmitted
   * job may be finished by its first coordinator while this node expects a later term);
   * otherwise the later term wins, and a final record is never replaced by an unfinished one.
   * Between final records, a 'done' one is never replaced by another state, and a 'cancelled'
   * one gives way to 'done' or 'failed' whatever their terms: a cancel is a tombstone decided
   * without a majority (src/jobs/replica-holder.ts), so a result committed meanwhile stands.
   */
  upsert (record: JobRecord, nowMs: number): boolean {
    const old = this.records.get(record.jobId)
    if (old !== undefined) {
      const oldFinal = FINAL_STATES.has(old.state)
      const newFinal = FINAL_STATES.has(record.state)
      if (oldFinal && !newFinal) return false
      if (oldFinal && newFinal && old.state !== record.state) {
        if ((FINAL_RANK[record.state] ?? 0) < (FINAL_RANK[old.state] ?? 0)) return false
      } else if (oldFinal === newFinal && record.term < old.term) return false
    }
    this.records.delete(record.jobId)
    this.records.set(record.jobId, record)
    this.updatedAt.set(record.jobId, nowMs)
    const final = FINAL_STATES.has(record.state)
    const first = final && !this.finishedAt.has(record.jobId)
    if (first) this.finishedAt.set(record.jobId, nowMs)
    this.evict(nowMs)
    if (final) this.opts.onFinal?.(record, first)
    const waiting = this.waiters.get(record.jobId)
    if (waiting !== undefined) for (const wake of [...waiting]) wake()
    return true
  }

  /**
   * Resolves when the job's record is next replaced (upsert), or after `timeoutMs`, whichever
   * comes first; at once when WAITERS_MAX clients already wait.
   */
  async changed (jobId: string, timeoutMs: number): Promise<void> {
    if (this.waiting >= WAITERS_MAX) return
    await new Promise<void>(resolve => {
      let set = this.waiters.get(jobId)
      if (set === undefined) this.waiters.set(jobId, set = new Set())
      const waiting = set
      const wake = (): void => {
        clearTimeout(timer)
        waiting.delete(wake)
        if (waiting.size === 0 && this.waiters.get(jobId) === waiting) this.waiters.delete(jobId)
        this.waiting--
        resolve()
      }
      const timer = setTimeout(wake, timeoutMs)
      timer.unref() // a long poll must not keep a stopping node alive
      waiting.add(wake)
      this.waiting++
    })
  }

  /** Clients waiting in changed() (for tests and status). */
  get waitingCount (): number { return this.waiting }

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
