// The reference for test/fixtures/jobs/spin.mjs without doing the work: n steps of the LCG
// x → a·x + c (mod 2^32) is one affine map, computed by squaring in O(log n).
const A = 1103515245
const C = 12345

export function spinReference (seed: number, iters: number): number {
  let a = A
  let c = C
  let accA = 1
  let accC = 0
  let n = iters
  while (n > 0) {
    if (n % 2 === 1) {
      // acc ← step ∘ acc (powers of one map commute)
      accC = (Math.imul(a, accC) + c) >>> 0
      accA = Math.imul(a, accA) >>> 0
    }
    c = (Math.imul(a, c) + c) >>> 0
    a = Math.imul(a, a) >>> 0
    n = Math.floor(n / 2)
  }
  return (Math.imul(accA, seed >>> 0) + accC) >>> 0
}

export function spinValues (tasks: number, iters: number): number[] {
  return Array.from({ length: tasks }, (_, i) => spinReference(i + 1, iters))
}
