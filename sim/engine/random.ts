import { seededRandom, type Random } from '../../src/util/prng.js'

// Seeded randomness for the simulator: every draw comes from src/util/prng.ts, split into
// named streams so adding draws in one part of the model does not shift another's sequence.

export class Rng {
  readonly next: Random
  private spare: number | undefined

  constructor (seed: number) { this.next = seededRandom(seed) }

  /** An independent stream derived from this seed and a name (FNV-1a of the name). */
  static stream (seed: number, name: string): Rng {
    let h = 0x811c9dc5 ^ (seed >>> 0)
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
    return new Rng(h >>> 0)
  }

  uniform (lo = 0, hi = 1): number { return lo + (hi - lo) * this.next() }

  int (n: number): number { return Math.floor(this.next() * n) }

  chance (p: number): boolean { return p > 0 && this.next() < p }

  exponential (mean: number): number { return -mean * Math.log(1 - this.next()) }

  normal (): number {
    if (this.spare !== undefined) {
      const s = this.spare
      this.spare = undefined
      return s
    }
    // Box–Muller, keeping the second value for the next call.
    const u = 1 - this.next()
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /** Lognormal with the given median and shape sigma. */
  lognormal (median: number, sigma: number): number { return median * Math.exp(sigma * this.normal()) }

  /** Pareto with minimum xMin and tail index alpha (smaller alpha, heavier tail). */
  pareto (xMin: number, alpha: number): number { return xMin / Math.pow(1 - this.next(), 1 / alpha) }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(items.length)] as T
  }

  /** k distinct indices from [0, n), in draw order (partial Fisher–Yates over a sparse map: O(k)). */
  sample (n: number, k: number): number[] {
    const count = Math.min(n, Math.max(0, Math.floor(k)))
    const swapped = new Map<number, number>()
    const out: number[] = []
    for (let i = 0; i < count; i++) {
      const j = i + this.int(n - i)
      const vj = swapped.get(j) ?? j
      swapped.set(j, swapped.get(i) ?? i)
      out.push(vj)
    }
    return out
  }
}
