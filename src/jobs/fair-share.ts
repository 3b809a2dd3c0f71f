// Weighted fair share between a coordinator's concurrent jobs: a freed window slot goes to
// the job with queued tasks whose inFlight / weight is lowest (ties: the earlier job).
// An indexed binary min-heap, so picking is O(1) and a change to one job is O(log jobs).

export interface FairShareEntry {
  inFlight: number
  /** > 0 */
  weight: number
  /** Arrival order; lower is earlier. */
  seq: number
  /** Position in the heap, -1 when not in it. Owned by FairShareQueue. */
  heapIndex: number
}

function before (a: FairShareEntry, b: FairShareEntry): boolean {
  // a.inFlight / a.weight < b.inFlight / b.weight, without dividing.
  const x = a.inFlight * b.weight
  const y = b.inFlight * a.weight
  return x !== y ? x < y : a.seq < b.seq
}

export class FairShareQueue<T extends FairShareEntry> {
  private readonly heap: T[] = []

  get size (): number { return this.heap.length }

  /** The job that should get the next slot. */
  peek (): T | undefined { return this.heap[0] }

  /** Call after the entry's inFlight or queue changed: `wanted` = it has queued tasks. */
  update (entry: T, wanted: boolean): void {
    if (!wanted) return this.remove(entry)
    if (entry.heapIndex < 0) {
      entry.heapIndex = this.heap.length
      this.heap.push(entry)
    }
    this.siftUp(entry.heapIndex)
    this.siftDown(entry.heapIndex)
  }

  remove (entry: T): void {
    const i = entry.heapIndex
    if (i < 0 || this.heap[i] !== entry) return
    entry.heapIndex = -1
    const last = this.heap.pop() as T
    if (i === this.heap.length) return
    this.heap[i] = last
    last.heapIndex = i
    this.siftUp(i)
    this.siftDown(last.heapIndex)
  }

  private siftUp (start: number): void {
    let i = start
    const item = this.heap[i] as T
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = this.heap[p] as T
      if (!before(item, parent)) break
      this.heap[i] = parent
      parent.heapIndex = i
      i = p
    }
    this.heap[i] = item
    item.heapIndex = i
  }

  private siftDown (start: number): void {
    let i = start
    const n = this.heap.length
    const item = this.heap[i] as T
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      let c = l
      if (r < n && before(this.heap[r] as T, this.heap[l] as T)) c = r
      const child = this.heap[c] as T
      if (!before(child, item)) break
      this.heap[i] = child
      child.heapIndex = i
      i = c
    }
    this.heap[i] = item
    item.heapIndex = i
  }
}
