import { describe, expect, it } from 'vitest'
import { hashPair53, rankCandidates, unitHash } from '../../src/election/rendezvous.js'
import {
  backupsFor, coordinatorFor, DEFAULT_ELECTION_SPEC, fixedStrategy, InvalidElectionSpecError,
  type Member, parseElectionSpec, rendezvousStrategy,
} from '../../src/election/strategy.js'
import { seededRandom } from '../../src/util/prng.js'

const jobIds = (n: number, prefix = 'job'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)
const peers = (n: number): string[] => Array.from({ length: n }, (_, i) => `12D3KooWPeer${String.fromCharCode(65 + i)}`)
const equal = (ids: string[]) => ids.map(peerId => ({ peerId, weight: 1 }))

function shuffle<T> (items: T[], seed: number): T[] {
  const random = seededRandom(seed)
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = a[i] as T
    a[i] = a[j] as T
    a[j] = tmp
  }
  return a
}

function winners (candidates: Array<{ peerId: string, weight: number }>, jobs: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const job of jobs) {
    const top = rankCandidates(job, candidates)[0] as string
    counts.set(top, (counts.get(top) ?? 0) + 1)
  }
  return counts
}

describe('hash', () => {
  it('is a fixed function of its input (the same on every node and every run)', () => {
    // Pinned: a change here changes every coordinator choice in a mixed-version mesh.
    expect(hashPair53('job-1', 'peerA')).toBe(7426183901430759)
    expect(hashPair53('', '')).toBe(3338908027751811)
    // The pair is unambiguous: moving the boundary changes the hash.
    expect(hashPair53('ab', 'c')).toBe(2924915889937228)
    expect(hashPair53('a', 'bc')).toBe(4486759430526946)
  })

  it('maps into the open interval (0, 1), roughly uniformly', () => {
    const buckets = new Array<number>(10).fill(0)
    let min = 1
    let max = 0
    for (let i = 0; i < 20_000; i++) {
      const u = unitHash(`job-${i}`, 'peer')
      min = Math.min(min, u)
      max = Math.max(max, u)
      buckets[Math.floor(u * 10)]!++
    }
    expect(min).toBeGreaterThan(0)
    expect(max).toBeLessThan(1)
    for (const b of buckets) expect(Math.abs(b - 2000)).toBeLessThan(200)
  })
})

describe('rankCandidates', () => {
  const ids = peers(6)

  it('returns every candidate once, best first, the same for any input order', () => {
    for (const job of jobIds(200)) {
      const ranked = rankCandidates(job, equal(ids))
      expect([...ranked].sort()).toEqual([...ids].sort())
      for (let seed = 1; seed <= 3; seed++) expect(rankCandidates(job, equal(shuffle(ids, seed)))).toEqual(ranked)
    }
  })

  it('spreads jobs evenly over equal weights', () => {
    const counts = winners(equal(ids), jobIds(6000))
    for (const id of ids) expect(Math.abs((counts.get(id) ?? 0) - 1000)).toBeLessThan(150)
  })

  it('adding a member only moves jobs to it; removing one only moves its own jobs', () => {
    const jobs = jobIds(1000)
    const before = jobs.map(j => rankCandidates(j, equal(ids))[0])
    const added = '12D3KooWNewcomer'
    const after = jobs.map(j => rankCandidates(j, equal([...ids, added]))[0])
    let moved = 0
    for (let i = 0; i < jobs.length; i++) {
      if (after[i] !== before[i]) {
        expect(after[i]).toBe(added)
        moved++
      }
    }
    // Expected share 1/7 of 1000 jobs ≈ 143.
    expect(moved).toBeGreaterThan(100)
    expect(moved).toBeLessThan(190)

    const removed = ids[2] as string
    const without = jobs.map(j => rankCandidates(j, equal(ids.filter(p => p !== removed)))[0])
    let reassigned = 0
    for (let i = 0; i < jobs.length; i++) {
      if (before[i] === removed) {
        expect(without[i]).not.toBe(removed)
        // The job goes to its former runner-up: the rest of the ranking is unchanged.
        expect(without[i]).toBe(rankCandidates(jobs[i] as string, equal(ids))[1])
        reassigned++
      } else {
        expect(without[i]).toBe(before[i])
      }
    }
    expect(reassigned).toBeGreaterThan(120)
    expect(reassigned).toBeLessThan(215)
  })

  it('weights skew the share roughly proportionally', () => {
    const candidates = [{ peerId: 'a', weight: 1 }, { peerId: 'b', weight: 2 }, { peerId: 'c', weight: 3 }, { peerId: 'd', weight: 4 }]
    const n = 20_000
    const counts = winners(candidates, jobIds(n))
    for (const c of candidates) {
      const share = (counts.get(c.peerId) ?? 0) / n
      expect(Math.abs(share - c.weight / 10)).toBeLessThan(0.015)
    }
  })

  it('ranks non-positive or invalid weights after every positive one, deterministically', () => {
    const candidates = [
      { peerId: 'zero', weight: 0 }, { peerId: 'a', weight: 1 }, { peerId: 'neg', weight: -3 },
      { peerId: 'nan', weight: Number.NaN }, { peerId: 'b', weight: 8 }, { peerId: 'inf', weight: Infinity },
    ]
    for (const job of jobIds(100)) {
      const ranked = rankCandidates(job, candidates)
      expect(ranked).toHaveLength(6)
      expect(new Set(ranked.slice(0, 2))).toEqual(new Set(['a', 'b']))
      expect(rankCandidates(job, shuffle(candidates, 7))).toEqual(ranked)
    }
  })

  it('counts a peer listed twice once, with its larger weight, whatever the order', () => {
    const job = 'job-x'
    const once = rankCandidates(job, [{ peerId: 'a', weight: 5 }, { peerId: 'b', weight: 1 }])
    expect(rankCandidates(job, [{ peerId: 'a', weight: 0 }, { peerId: 'b', weight: 1 }, { peerId: 'a', weight: 5 }])).toEqual(once)
    expect(rankCandidates(job, [{ peerId: 'a', weight: 5 }, { peerId: 'b', weight: 1 }, { peerId: 'a', weight: 0 }])).toEqual(once)
    expect(rankCandidates(job, [])).toEqual([])
  })
})

describe('rendezvous strategy', () => {
  const members: Member[] = [
    { peerId: 'A', slotsTotal: 4, status: 'alive' },
    { peerId: 'B', slotsTotal: 4, status: 'suspect' },
    { peerId: 'C', slotsTotal: 4, status: 'alive' },
    { peerId: 'D', slotsTotal: 4, status: 'dead' },
    { peerId: 'E', slotsTotal: 4, status: 'left' },
    { peerId: 'F', slotsTotal: 4, status: 'suspect' },
  ]

  it('ranks alive members, then suspect ones, and never dead or left ones', () => {
    for (const job of jobIds(50)) {
      const ranked = rendezvousStrategy.rank(job, members)
      expect(ranked).toHaveLength(4)
      expect(new Set(ranked.slice(0, 2))).toEqual(new Set(['A', 'C']))
      expect(new Set(ranked.slice(2))).toEqual(new Set(['B', 'F']))
      expect(rendezvousStrategy.rank(job, shuffle(members, 3))).toEqual(ranked)
    }
  })

  it('uses slotsTotal as the weight, not the changing slotsFree', () => {
    const job = 'job-7'
    const ranked = rendezvousStrategy.rank(job, members)
    expect(ranked).toEqual(rankCandidates(job, [{ peerId: 'A', weight: 4 }, { peerId: 'C', weight: 4 }])
      .concat(rankCandidates(job, [{ peerId: 'B', weight: 4 }, { peerId: 'F', weight: 4 }])))
  })

  it('gives the coordinator and the next k as backups', () => {
    const job = 'job-3'
    const ranked = rendezvousStrategy.rank(job, members)
    expect(coordinatorFor(rendezvousStrategy, job, members)).toBe(ranked[0])
    expect(backupsFor(rendezvousStrategy, job, members, 2)).toEqual(ranked.slice(1, 3))
    expect(backupsFor(rendezvousStrategy, job, members, 10)).toEqual(ranked.slice(1))
    expect(backupsFor(rendezvousStrategy, job, members, 0)).toEqual([])
    expect(backupsFor(rendezvousStrategy, job, members, -1)).toEqual([])
    expect(coordinatorFor(rendezvousStrategy, job, [])).toBeUndefined()
    expect(coordinatorFor(rendezvousStrategy, job, [{ peerId: 'D', slotsTotal: 1, status: 'dead' }])).toBeUndefined()
  })

  it('lets a member with no slots coordinate when it is the only one', () => {
    expect(coordinatorFor(rendezvousStrategy, 'j', [{ peerId: 'A', slotsTotal: 0, status: 'alive' }])).toBe('A')
  })
})

describe('fixed strategy', () => {
  const members: Member[] = [
    { peerId: 'master', slotsTotal: 1, status: 'alive' },
    { peerId: 'w1', slotsTotal: 8, status: 'alive' },
  ]

  it('makes the fixed peer coordinate every job, with no backups', () => {
    const s = fixedStrategy('master')
    expect(s.name).toBe('fixed:master')
    for (const job of jobIds(20)) {
      expect(s.rank(job, members)).toEqual(['master'])
      expect(coordinatorFor(s, job, members)).toBe('master')
      expect(backupsFor(s, job, members, 3)).toEqual([])
    }
  })

  it('has no coordinator while the fixed peer is not alive or not known', () => {
    const s = fixedStrategy('master')
    for (const status of ['suspect', 'dead', 'left'] as const) {
      expect(s.rank('j', [{ peerId: 'master', slotsTotal: 1, status }, { peerId: 'w1', slotsTotal: 8, status: 'alive' }])).toEqual([])
    }
    expect(coordinatorFor(s, 'j', [{ peerId: 'w1', slotsTotal: 8, status: 'alive' }])).toBeUndefined()
  })
})

describe('parseElectionSpec', () => {
  it('parses the two strategies', () => {
    expect(parseElectionSpec('rendezvous')).toBe(rendezvousStrategy)
    expect(parseElectionSpec(DEFAULT_ELECTION_SPEC).name).toBe('rendezvous')
    const fixed = parseElectionSpec('fixed:12D3KooWMaster')
    expect(fixed.name).toBe('fixed:12D3KooWMaster')
    expect(fixed.rank('j', [{ peerId: '12D3KooWMaster', slotsTotal: 1, status: 'alive' }])).toEqual(['12D3KooWMaster'])
    expect(parseElectionSpec(' rendezvous ').name).toBe('rendezvous')
  })

  it('rejects anything else with an error naming the spec', () => {
    expect(() => parseElectionSpec('x')).toThrow('Unknown election strategy "x": use "rendezvous" or "fixed:<peerId>"')
    expect(() => parseElectionSpec('')).toThrow('Unknown election strategy "": use "rendezvous" or "fixed:<peerId>"')
    expect(() => parseElectionSpec('Rendezvous')).toThrow(/Unknown election strategy "Rendezvous"/)
    expect(() => parseElectionSpec('fixed:')).toThrow('Invalid election strategy "fixed:": "fixed:" needs a peer id, e.g. "fixed:<peerId>"')
    expect(() => parseElectionSpec(`fixed:${'p'.repeat(200)}`)).toThrow(/peer id longer than 128/)
    try {
      parseElectionSpec('raft')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidElectionSpecError)
      expect((err as Error).name).toBe('InvalidElectionSpecError')
    }
  })
})
