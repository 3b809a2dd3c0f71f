// Per-task values computed from (job seed, task index) with a stateless hash, so a job of a
// million tasks needs no stored table: the worker derives a task's duration and result, and
// the checker derives the expected result independently.

function mix32 (a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return (h ^ (h >>> 16)) >>> 0
}

/** Uniform in (0, 1) for (seed, index, lane). */
export function unitFor (seed: number, index: number, lane: number): number {
  return (mix32(mix32(seed, index), lane) + 0.5) / 4294967296
}

/** The result a correct worker returns for task `index` of the job seeded `seed`. */
export function expectedResult (seed: number, index: number): number {
  return mix32(seed ^ 0x5bd1e995, index)
}

/** A standard normal draw for (seed, index) (Box–Muller on two lanes). */
export function normalFor (seed: number, index: number): number {
  const u = unitFor(seed, index, 1)
  const v = unitFor(seed, index, 2)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
