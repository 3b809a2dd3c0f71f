// A binary min-heap of timed callbacks, ordered by (time, insertion sequence) so events at
// the same instant run in the order they were scheduled: that order is part of what makes a
// seed replay byte-identically. Times and sequence numbers live in flat typed arrays (no
// object per entry besides the callback) so millions of events stay cheap.

export type EventFn = () => void

export class EventQueue {
  private times = new Float64Array(1024)
  private seqs = new Float64Array(1024)
  private fns: Array<EventFn | undefined> = new Array(1024)
  private count = 0
  private nextSeq = 0

  constructor (readonly capacityMax: number) {}

  get size (): number { return this.count }

  push (atMs: number, fn: EventFn): void {
    if (this.count >= this.capacityMax) throw new Error(`event queue full (${this.capacityMax} events): raise eventsQueuedMax or shrink the scenario`)
    if (this.count === this.times.length) this.grow()
    let i = this.count++
    const seq = this.nextSeq++
    // Sift up: move parents down until the slot for (atMs, seq) is found.
    while (i > 0) {
      const p = (i - 1) >> 1
      const pt = this.times[p] as number
      if (pt < atMs || (pt === atMs && (this.seqs[p] as number) < seq)) break
      this.times[i] = pt
      this.seqs[i] = this.seqs[p] as number
      this.fns[i] = this.fns[p]
      i = p
    }
    this.times[i] = atMs
    this.seqs[i] = seq
    this.fns[i] = fn
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime (): number { return this.count === 0 ? Infinity : this.times[0] as number }

  /** Removes the earliest event and returns its callback (its time is peekTime() before the call). */
  pop (): EventFn | undefined {
    if (this.count === 0) return undefined
    const top = this.fns[0]
    const n = --this.count
    if (n > 0) {
      const t = this.times[n] as number
      const s = this.seqs[n] as number
      const f = this.fns[n]
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let c = l
        if (r < n) {
          const lt = this.times[l] as number
          const rt = this.times[r] as number
          if (rt < lt || (rt === lt && (this.seqs[r] as number) < (this.seqs[l] as number))) c = r
        }
        const ct = this.times[c] as number
        if (t < ct || (t === ct && s < (this.seqs[c] as number))) break
        this.times[i] = ct
        this.seqs[i] = this.seqs[c] as number
        this.fns[i] = this.fns[c]
        i = c
      }
      this.times[i] = t
      this.seqs[i] = s
      this.fns[i] = f
    }
    this.fns[n] = undefined
    return top
  }

  private grow (): void {
    const size = this.times.length * 2
    const times = new Float64Array(size)
    times.set(this.times)
    const seqs = new Float64Array(size)
    seqs.set(this.seqs)
    this.times = times
    this.seqs = seqs
    this.fns.length = size
  }
}
