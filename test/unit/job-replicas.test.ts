import { describe, expect, it } from 'vitest'
import type { JobSpec } from '../../src/jobs/job-spec.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import type { CodeCache } from '../../src/node/daemon/code-cache.js'
import { ReplicaStore } from '../../src/node/daemon/job-replicas.js'
import type { Logger } from '../../src/node/host/logger.js'

// Three replica stores on an in-memory network whose deliveries the test controls, replaying
// the interleaving a 5-minute chaos run found: a backup's claim under a higher term, then the
// takeover announcement of a lower one, arriving while the claim's votes are in flight.

const JOB = 'jtest'
const SET = ['C', 'A', 'B'] as const
type Id = typeof SET[number]

const silent = { info () {}, warn () {}, debug () {}, error () {} } as unknown as Logger
const code = { put: async () => '/dev/null' } as unknown as CodeCache

function world () {
  let now = 0
  const alive = new Set<string>(SET)
  const queue: Array<{ from: Id, to: Id, m: RpcMessage }> = []
  const coordinating = new Map<Id, number>() // node → the term it coordinates the job under
  const stores = new Map<Id, ReplicaStore>()
  for (const id of SET) {
    stores.set(id, new ReplicaStore({
      selfId: id, code, log: silent, nowMs: () => now, retentionMs: 60_000,
      send: (to, m) => { queue.push({ from: id, to: to as Id, m }) },
      alivePeers: () => [...alive],
      liveBoot: p => alive.has(p) ? `boot-${p}` : undefined,
      coordinates: () => coordinating.has(id),
      takeOver: data => { coordinating.set(id, data.term) },
      yieldJob: () => { coordinating.delete(id) },
      onRecord: () => {},
      onCancelled: () => {},
    }))
  }
  const store = (id: Id): ReplicaStore => stores.get(id)!
  /** Deliver queued messages (those `keep` refuses stay queued) until none is left to deliver. */
  const deliver = async (keep: (x: { from: Id, to: Id, m: RpcMessage }) => boolean = () => false): Promise<void> => {
    for (let guard = 0; guard < 1000; guard++) {
      const i = queue.findIndex(x => !keep(x) && alive.has(x.to))
      if (i < 0) return
      const { from, to, m } = queue.splice(i, 1)[0]!
      const s = store(to)
      switch (m.t) {
        case 'job.replica': await s.onReplica(from, m); break
        case 'job.claim': s.onClaim(from, m); break
        case 'job.claimReply': s.onClaimReply(from, m); break
        case 'job.takeover': s.onTakeover(from, m); break
        default: break
      }
    }
    throw new Error('message loop did not settle')
  }
  return { store, deliver, queue, alive, coordinating, advance: (ms: number) => { now += ms } }
}

async function started () {
  const w = world()
  const spec = { jobId: JOB, codeHash: 'h' } as unknown as JobSpec
  w.store('C').track(JOB, SET, 'C', 1)
  w.coordinating.set('C', 1)
  for (const backup of ['A', 'B'] as const) await w.store(backup).onReplica('C', { t: 'job.replica', spec, code: 'x', chunks: [1, 2, 3], replicaSet: [...SET], term: 1 })
  return w
}

describe('replica store: claims racing a takeover', () => {
  it('a takeover under a lower term does not cancel a claim under a higher one; the job ends up coordinated', async () => {
    const w = await started()
    w.alive.delete('C') // the coordinator dies
    w.coordinating.delete('C')
    w.store('A').tick() // A, first live backup, claims term 2
    await w.deliver(x => x.m.t === 'job.takeover') // B votes; A wins; A's takeover announcement is held back
    expect(w.coordinating.get('A')).toBe(2)
    // B, not yet told, stops seeing A for a moment and claims term 4 itself (claim terms are even).
    w.alive.delete('A')
    w.store('B').tick()
    w.alive.add('A')
    // Now A's takeover (term 2) reaches B, then B's claim (term 4) reaches A, which yields.
    await w.deliver()
    expect(w.coordinating.has('A')).toBe(false)
    expect(w.coordinating.get('B')).toBe(4)
  })

  it('a node that yielded to a claim that never took over claims the job again after the timeout', async () => {
    const w = await started()
    w.alive.delete('C')
    w.coordinating.delete('C')
    w.store('A').tick()
    await w.deliver()
    expect(w.coordinating.get('A')).toBe(2)
    // B claims term 4; A promises and yields, but its vote never reaches B, whose claim lapses.
    w.alive.delete('A')
    w.store('B').tick()
    w.alive.add('A')
    await w.deliver(x => x.m.t === 'job.claimReply' && x.to === 'B')
    w.queue.splice(0)
    expect(w.coordinating.size).toBe(0)
    w.advance(5_001)
    w.store('B').tick() // its claim times out; A is alive and on record, so B waits
    w.store('A').tick() // A notices it is on record but coordinates nothing
    await w.deliver()
    expect(w.coordinating.size).toBe(0)
    w.advance(5_001)
    w.store('A').tick()
    await w.deliver()
    expect([...w.coordinating.keys()]).toEqual(['A'])
    expect(w.coordinating.get('A')).toBeGreaterThan(4)
  })

  it('a coordinator outside the replica set (the job was resubmitted to the next live node) gets its confirm answered', async () => {
    // The submitter's replica set is [C, A, B]; C went silent before accepting, so the job went
    // to N under term 2 with the same set. The members' copies come from N's replica.
    const w = world()
    const spec = { jobId: JOB, codeHash: 'h' } as unknown as JobSpec
    for (const member of SET) await w.store(member).onReplica('N' as Id, { t: 'job.replica', spec, code: 'x', chunks: [1, 2], replicaSet: [...SET], term: 2 })
    w.queue.splice(0)
    w.store('A').onConfirm('N' as Id, { t: 'job.confirm', jobId: JOB, term: 2 })
    w.store('B').onConfirm('N' as Id, { t: 'job.confirm', jobId: JOB, term: 2 })
    const replies = w.queue.filter(x => x.to === ('N' as Id) && x.m.t === 'job.confirmReply').map(x => x.m)
    expect(replies).toEqual([
      { t: 'job.confirmReply', jobId: JOB, term: 2, ok: true, promisedTerm: 2 },
      { t: 'job.confirmReply', jobId: JOB, term: 2, ok: true, promisedTerm: 2 },
    ])
    // A stale term-1 coordinator asking the same members is told the job moved on.
    w.queue.splice(0)
    w.store('A').onConfirm('C', { t: 'job.confirm', jobId: JOB, term: 1 })
    expect(w.queue.map(x => x.m)).toEqual([{ t: 'job.confirmReply', jobId: JOB, term: 1, ok: false, promisedTerm: 2 }])
  })

  it("a coordinator that yielded keeps the task table and claims the job back when its successor dies (the others wait for it, ranked first)", async () => {
    const w = await started()
    const spec = { jobId: JOB, codeHash: 'h' } as unknown as JobSpec
    w.store('C').keepTable(JOB, spec, [1, 2, 3])
    w.store('C').noteDone(JOB, [[0, 'A', 'r0']])
    // C stalls; A claims term 2 and takes over; C yields.
    w.alive.delete('C')
    w.store('A').tick()
    w.alive.add('C')
    await w.deliver()
    w.coordinating.delete('C')
    expect(w.coordinating.get('A')).toBe(2)
    // A dies. C is the first live member: B waits for it, and C must claim.
    w.alive.delete('A')
    w.coordinating.delete('A')
    w.store('B').tick()
    w.store('C').tick()
    await w.deliver()
    expect([...w.coordinating.entries()]).toEqual([['C', 4]]) // the next even term above A's 2
  })
})
