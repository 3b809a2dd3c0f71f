// CPU-bound: count the primes below `to` (from `from`), by trial division over ranges.
//   meshwork submit examples/primes.mjs --input-json '{"from":0,"to":2000000}' --parts 16

export function countPrimes (from, to) {
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    if (n % 2 === 0) { if (n === 2) count++; continue }
    let prime = true
    for (let d = 3; d * d <= n; d += 2) if (n % d === 0) { prime = false; break }
    if (prime) count++
  }
  return count
}

export default {
  kind: 'function',
  split (input, ctx) {
    const { from = 0, to = 1_000_000 } = input ?? {}
    const parts = Math.max(1, ctx.parts ?? 8)
    const step = Math.ceil((to - from) / parts)
    const chunks = []
    for (let a = from; a < to; a += step) chunks.push({ from: a, to: Math.min(to, a + step) })
    return chunks
  },
  map ({ from, to }) {
    return countPrimes(from, to)
  },
  reduce (counts) {
    return counts.reduce((a, b) => a + b, 0)
  },
}
