import { rankCandidates } from './rendezvous.js'
import { MeshworkError } from '../util/errors.js'

// Who coordinates job J, and who backs it up: a pluggable ranking over the membership view.
// The ranking must come out the same on every node despite gossip lag, so it uses only
// fields that change rarely (status, and slotsTotal which is static per node).

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left'

export interface Member {
  peerId: string
  slotsTotal: number
  status: MemberStatus
}

export interface ElectionStrategy {
  /** The spec that parses back to this strategy ("rendezvous", "fixed:<peerId>"). */
  name: string
  /** Eligible peer ids for `jobId`, best first: [coordinator, first backup, ...]. */
  rank: (jobId: string, members: ReadonlyArray<Member>) => string[]
}

export const DEFAULT_ELECTION_SPEC = 'rendezvous'
const FIXED_PREFIX = 'fixed:'
const PEER_ID_LENGTH_MAX = 128

export class InvalidElectionSpecError extends MeshworkError { readonly code = 'election-spec' }

/**
 * The default: weighted rendezvous hashing, weight = slotsTotal. Alive members first, then
 * suspect ones (a suspect may be alive; it is only a fallback); dead and left are excluded.
 */
export const rendezvousStrategy: ElectionStrategy = {
  name: 'rendezvous',
  rank (jobId, members) {
    const alive: Array<{ peerId: string, weight: number }> = []
    const suspect: Array<{ peerId: string, weight: number }> = []
    for (const m of members) {
      if (m.status === 'alive') alive.push({ peerId: m.peerId, weight: m.slotsTotal })
      else if (m.status === 'suspect') suspect.push({ peerId: m.peerId, weight: m.slotsTotal })
    }
    const first = rankCandidates(jobId, alive)
    // A peer id listed as both alive and suspect ranks once, as alive.
    const taken = new Set(first)
    return first.concat(rankCandidates(jobId, suspect).filter(p => !taken.has(p)))
  },
}

/**
 * Master-slave: `peerId` coordinates every job and nobody backs it up. While it is not
 * alive (suspect included) the ranking is empty: there is no coordinator, and jobs wait.
 */
export function fixedStrategy (peerId: string): ElectionStrategy {
  return {
    name: `${FIXED_PREFIX}${peerId}`,
    rank (_jobId, members) {
      return members.some(m => m.peerId === peerId && m.status === 'alive') ? [peerId] : []
    },
  }
}

/** Parses `rendezvous` or `fixed:<peerId>`; throws InvalidElectionSpecError naming the bad spec. */
export function parseElectionSpec (spec: string): ElectionStrategy {
  const text = typeof spec === 'string' ? spec.trim() : String(spec)
  if (text === 'rendezvous') return rendezvousStrategy
  if (text.startsWith(FIXED_PREFIX)) {
    const peerId = text.slice(FIXED_PREFIX.length).trim()
    if (peerId.length === 0) throw new InvalidElectionSpecError(`Invalid election strategy "${text}": "fixed:" needs a peer id, e.g. "fixed:<peerId>"`)
    if (peerId.length > PEER_ID_LENGTH_MAX) throw new InvalidElectionSpecError(`Invalid election strategy "${text}": peer id longer than ${PEER_ID_LENGTH_MAX} characters`)
    return fixedStrategy(peerId)
  }
  throw new InvalidElectionSpecError(`Unknown election strategy "${text}": use "rendezvous" or "fixed:<peerId>"`)
}

/** The coordinator of `jobId`, or undefined when no member is eligible. */
export function coordinatorFor (strategy: ElectionStrategy, jobId: string, members: ReadonlyArray<Member>): string | undefined {
  return strategy.rank(jobId, members)[0]
}

/** The next `k` eligible peers after the coordinator (fewer when the mesh is small). */
export function backupsFor (strategy: ElectionStrategy, jobId: string, members: ReadonlyArray<Member>, k: number): string[] {
  const count = Number.isFinite(k) ? Math.max(0, Math.floor(k)) : 0
  if (count === 0) return []
  return strategy.rank(jobId, members).slice(1, 1 + count)
}
