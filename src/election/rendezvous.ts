// Weighted rendezvous (highest-random-weight) hashing: every node that knows the same
// candidate set ranks the same peers for a job, with no coordination, and adding or removing
// one candidate only moves the jobs won by (or lost to) that candidate.
//
// Score per (job, peer): u = hash(job, peer) mapped into (0,1), score = -weight / ln(u).
// The winner is then peer i with probability weight_i / sum(weights) (the exponential-race
// form of weighted HRW), so weights skew the share proportionally.

export interface RendezvousCandidate {
  peerId: string
  weight: number
}

const TWO_POW_53 = 2 ** 53

/**
 * A 53-bit non-cryptographic hash of the pair (a, b), after bryc's public-domain cyrb53:
 * two 32-bit multiply-xor lanes with a cross-mixing finaliser. The length of `a` is mixed
 * first so the pair is unambiguous ("ab"+"c" differs from "a"+"bc"). Works on UTF-16 code
 * units, so every JS runtime hashes the same string the same way.
 */
export function hashPair53 (a: string, b: string): number {
  let h1 = 0xdeadbeef ^ a.length
  let h2 = 0x41c6ce57 ^ a.length
  for (let i = 0; i < a.length; i++) {
    const ch = a.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  for (let i = 0; i < b.length; i++) {
    const ch = b.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (0x1fffff & h2) + (h1 >>> 0)
}

/** The hash of (jobId, peerId) as a uniform number strictly inside (0, 1). */
export function unitHash (jobId: string, peerId: string): number {
  return (hashPair53(jobId, peerId) + 0.5) / TWO_POW_53
}

interface Scored { peerId: string, positive: boolean, key: number }

/**
 * Peer ids for `jobId`, best first. Input order does not matter; a peer id listed twice
 * counts once with its largest weight. Candidates whose weight is not a finite number > 0
 * are kept (a node with no task slots may still coordinate) but ranked after every
 * positive-weight candidate, ordered among themselves by the unweighted hash, so they stay
 * deterministic and evenly spread.
 */
export function rankCandidates (jobId: string, candidates: ReadonlyArray<RendezvousCandidate>): string[] {
  const weights = new Map<string, number>()
  for (const c of candidates) {
    const w = Number.isFinite(c.weight) && c.weight > 0 ? c.weight : 0
    const seen = weights.get(c.peerId)
    if (seen === undefined || w > seen) weights.set(c.peerId, w)
  }
  const scored: Scored[] = []
  for (const [peerId, weight] of weights) {
    const u = unitHash(jobId, peerId)
    // Positive weights: higher -w/ln(u) wins. Others: higher u wins (same order as weight 1).
    scored.push(weight > 0 ? { peerId, positive: true, key: -weight / Math.log(u) } : { peerId, positive: false, key: u })
  }
  scored.sort(compareScored)
  return scored.map(s => s.peerId)
}

function compareScored (x: Scored, y: Scored): number {
  if (x.positive !== y.positive) return x.positive ? -1 : 1
  if (x.key !== y.key) return y.key - x.key
  // Equal scores need a 53-bit collision; still break them the same way everywhere.
  return x.peerId < y.peerId ? -1 : x.peerId > y.peerId ? 1 : 0
}
