// Recent task durations of one job, for the straggler threshold. A bounded ring: the median
// of the last N completions follows the job's real pace and costs O(N) memory, not O(tasks).

export class DurationSamples {
  private readonly ring: Float64Array
  private count = 0
  private next = 0
  private cached: number | undefined

  constructor (capacity: number) {
    this.ring = new Float64Array(Math.max(1, Math.floor(capacity)))
  }

  get size (): number { return this.count }

  add (durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return
    this.ring[this.next] = durationMs
    this.next = (this.next + 1) % this.ring.length
    if (this.count < this.ring.length) this.count++
    this.cached = undefined
  }

  /** Median of the samples (mean of the middle two for an even count); undefined when empty. */
  median (): number | undefined {
    if (this.count === 0) return undefined
    if (this.cached === undefined) {
      const sorted = this.ring.slice(0, this.count).sort()
      const mid = this.count >> 1
      this.cached = this.count % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
    }
    return this.cached
  }
}
