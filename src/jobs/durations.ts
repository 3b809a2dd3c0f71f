// Recent task durations of one job, for the straggler threshold. A bounded ring: the median
// of the last N completions follows the job's real pace and costs O(N) memory, not O(tasks).

export class DurationSamples {
  private readonly ring: Float64Array
  /** Where median() selects in (a copy: the ring keeps its order). */
  private readonly scratch: Float64Array
  private count = 0
  private next = 0
  private cached: number | undefined

  constructor (capacity: number) {
    this.ring = new Float64Array(Math.max(1, Math.floor(capacity)))
    this.scratch = new Float64Array(this.ring.length)
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
      // Selected, not sorted: the scheduler asks every 32 results, and sorting 255 samples
      // each time was 5 % of a coordinator's CPU for jobs of empty tasks.
      const a = this.scratch
      a.set(this.ring.subarray(0, this.count))
      const mid = this.count >> 1
      const upper = select(a, this.count, mid)
      if (this.count % 2 === 1) this.cached = upper
      else {
        // After selection everything before `mid` is ≤ a[mid]: the lower middle is their largest.
        let lower = a[0] as number
        for (let i = 1; i < mid; i++) if ((a[i] as number) > lower) lower = a[i] as number
        this.cached = (lower + upper) / 2
      }
    }
    return this.cached
  }
}

/** Hoare's quickselect: reorders a[0, n) so that a[k] holds the k-th smallest, and returns it. */
function select (a: Float64Array, n: number, k: number): number {
  let lo = 0
  let hi = n - 1
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number
    let i = lo
    let j = hi
    while (i <= j) {
      while ((a[i] as number) < pivot) i++
      while ((a[j] as number) > pivot) j--
      if (i <= j) {
        const t = a[i] as number
        a[i] = a[j] as number
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else break
  }
  return a[k] as number
}
