import { describe, expect, it } from 'vitest'
import { ReplicaHolder, type HolderEffect } from '../../src/jobs/replica-holder.js'
import type { JobRecord, JobSpec } from '../../src/jobs/job-spec.js'
import type { RpcMessage } from '../../src/jobs/wire.js'

// The backup side's core alone: which member claims, under which term, when it gives up,
// the orphan backstop, and what it hands to the adopter. Replica set [C, A, B]: C coordinates.

const JOB = 'j1'
const SET = ['C', 'A', 'B']
const spec = { jobId: JOB, kind: 'function', codeHash: 'h', moduleName: 'm', priority: 'normal', submitter: 'S', submittedAtMs: 0 } as JobSpec
const replica = (term = 1, done?: Array<[number, string, unknown]>): Extract<RpcMessage, { t: 'job.replica' }> =>
  ({ t: 'job.replica', spec, code: 'x', chunks: [0, 1, 2], replicaSet: SET, term, ...(done !== undefined ? { done } : {}) })
const record = (term: number): JobRecord => ({
  jobId: JOB, kind: 'function', moduleName: 'm', state: 'done', coordinator: 'C', term, replicaSet: SET, submitter: 'S', priority: 'normal',
  tasks: 3, done: 3, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0, result: 42,
})

function holder (self: string, alive: Set<string>, coordinating = new Set<string>()) {
  return new ReplicaHolder({
    selfId: self,
    liveBoot: p => alive.has(p) ? `boot-${p}` : undefined,
    alivePeers: () => [...alive],
    coordinates: jobId => coordinating.has(jobId),
  }, { retentionMs: 60_000, claimTimeoutMs: 5000 })
}

/** A backup that holds the replica from C under term 1. */
function backup (self: string, alive: Set<string>, coordinating?: Set<string>) {
  const h = holder(self, alive, coordinating)
  expect(h.replicaArriving('C', replica(), 0)).toBe(true)
  const acked = h.replicaStored('C', replica(1, [[0, 'W', 'r0']]), 0)
  expect(acked).toEqual([{ type: 'send', to: 'C', message: { t: 'job.replicaAck', jobId: JOB, term: 1 } }])
  return h
}

const of = <T extends HolderEffect['type']>(effects: HolderEffect[], type: T): Array<Extract<HolderEffect, { type: T }>> =>
  effects.filter((e): e is Extract<HolderEffect, { type: T }> => e.type === type)
const claims = (effects: HolderEffect[]): Array<{ to: string, term: number }> =>
  of(effects, 'send').filter(e => e.message.t === 'job.claim').map(e => ({ to: e.to, term: (e.message as { term: number }).term }))

describe('replica holder: who claims, and when', () => {
  it('the first live backup claims an even term once the coordinator is gone; the next one waits for it', () => {
    const alive = new Set(['A', 'B'])
    const a = backup('A', alive)
    const b = backup('B', alive)
    expect(claims(b.tick(10))).toEqual([]) // A ranks before B and is alive
    expect(claims(a.tick(10))).toEqual([{ to: 'C', term: 2 }, { to: 'B', term: 2 }])
    expect(of(a.tick(11), 'claim')).toEqual([]) // one claim at a time
    alive.delete('A')
    expect(claims(b.tick(12))).toEqual([{ to: 'C', term: 2 }, { to: 'A', term: 2 }])
  })

  it('wins with a majority, announces the takeover and hands over the task table and the results', () => {
    const alive = new Set(['A', 'B', 'W'])
    const a = backup('A', alive)
    a.tick(10)
    const won = a.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: true, promisedTerm: 2 })
    const takeover = of(won, 'takeOver')
    expect(takeover).toHaveLength(1)
    expect(takeover[0]!.data).toMatchObject({ term: 2, chunks: [0, 1, 2], replicaSet: SET })
    expect([...takeover[0]!.data.done]).toEqual([[0, ['W', 'r0']]])
    expect(of(won, 'send').filter(e => e.message.t === 'job.takeover').map(e => e.to).sort()).toEqual(['B', 'C', 'W'])
  })

  it('progress from the coordinator adds results under the peers it names; the takeover hands them over', () => {
    const alive = new Set(['A', 'B', 'W', 'V'])
    const a = backup('A', alive)
    a.onProgress('C', { t: 'job.progress', jobId: JOB, term: 1, peers: ['V', 'W'], done: [[1, 1, 'r1'], [2, 0, 'r2'], [0, 0, 'again']] }, 5)
    a.onProgress('B', { t: 'job.progress', jobId: JOB, term: 1, peers: ['B'], done: [[2, 0, 'not from the coordinator']] }, 6)
    a.tick(10)
    const takeover = of(a.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: true, promisedTerm: 2 }), 'takeOver')
    expect([...takeover[0]!.data.done].sort()).toEqual([[0, ['W', 'r0']], [1, ['W', 'r1']], [2, ['V', 'r2']]])
  })

  it('a refusal with a higher term loses the claim; a stalled claim is given up after the timeout and tried again', () => {
    const alive = new Set(['A'])
    const a = backup('A', alive)
    a.tick(0)
    expect(of(a.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 6 }), 'takeOver')).toEqual([])
    expect(claims(a.tick(1))).toEqual([{ to: 'C', term: 4 }, { to: 'B', term: 4 }]) // the next even term above its own promise
    expect(claims(a.tick(5001))).toEqual([])
    a.tick(5002) // timed out: dropped
    expect(claims(a.tick(5003))).toEqual([{ to: 'C', term: 6 }, { to: 'B', term: 6 }])
  })

  it('a claim reply carrying the committed record settles the job instead of taking it over', () => {
    const a = backup('A', new Set(['A']))
    a.tick(0)
    const out = a.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 1, final: record(1) })
    expect(of(out, 'takeOver')).toEqual([])
    expect(of(out, 'record')).toEqual([{ type: 'record', record: record(1) }])
    expect(a.get(JOB)?.final?.result).toBe(42)
    expect(a.tick(100)).toEqual([])
  })
})

describe('replica holder: terms', () => {
  it('keeps its own claim of a higher term when a lower takeover arrives, and drops it for a higher one', () => {
    const a = backup('A', new Set(['A']))
    a.tick(0) // claims term 2
    a.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 2 }) // B promised 2 already: pending
    expect(a.get(JOB)?.claim?.tally.term).toBe(2)
    a.onTakeover('C', { t: 'job.takeover', jobId: JOB, term: 1, coordinator: 'C' })
    expect(a.get(JOB)?.claim?.tally.term).toBe(2)
    a.onTakeover('B', { t: 'job.takeover', jobId: JOB, term: 4, coordinator: 'B' })
    expect(a.get(JOB)?.claim).toBeUndefined()
    expect(a.get(JOB)?.state).toMatchObject({ coordinator: 'B', term: 4 })
  })

  it('a coordinator that promises a higher claim yields; a stale replica is ignored', () => {
    const c = holder('C', new Set(['C', 'A', 'B']), new Set([JOB]))
    c.track(JOB, SET, 'C', 1, 0)
    const out = c.onClaim('A', { t: 'job.claim', jobId: JOB, term: 2 })
    expect(of(out, 'send')[0]!.message).toMatchObject({ t: 'job.claimReply', ok: true, promisedTerm: 2 })
    expect(of(out, 'yield')).toEqual([{ type: 'yield', jobId: JOB, term: 2 }])
    expect(of(c.onClaim('B', { t: 'job.claim', jobId: JOB, term: 2 }), 'send')[0]!.message).toMatchObject({ ok: false, promisedTerm: 2 })
    const b = backup('B', new Set(['B']))
    b.onTakeover('A', { t: 'job.takeover', jobId: JOB, term: 2, coordinator: 'A' })
    expect(b.replicaArriving('C', replica(1), 10)).toBe(false)
  })
})

describe('replica holder: members out of sight when the replica was made', () => {
  // Found by the chaos test: a job submitted during a partition ran 120 s under terms climbing to
  // 3,922. Each member had recorded the ones it could not see as "no boot", so never again the
  // same process: each took the job from the last one as soon as it took over, in a cycle.
  it('a member that sends the job\'s record (as its coordinator) or its takeover holds the job: it counts as alive from then on', () => {
    const alive = new Set(['A'])
    // A makes its replica while C and B are out of sight (a partition).
    const a = holder('A', alive)
    expect(a.replicaArriving('C', replica(), 0)).toBe(true)
    a.replicaStored('C', replica(), 0)
    // The partition heals: the same processes come back. Until C says something about the job,
    // A cannot tell it from a restarted C that lost it, and claims (one takeover at most).
    alive.add('B').add('C')
    expect(claims(a.tick(10)).map(c => c.to)).toEqual(['C', 'B'])
    // C's record update (it coordinates the job): A gives its claim no successor once it times out.
    a.noteRecord({ ...record(1), state: 'running' }, 'C')
    a.tick(10 + 5001) // the claim times out
    expect(claims(a.tick(5020))).toEqual([])
    // B takes the job over (C yielded to it): B holds it, A does not claim it from B.
    a.onTakeover('B', { t: 'job.takeover', jobId: JOB, term: 4, coordinator: 'B' })
    expect(claims(a.tick(6000))).toEqual([])
    // B dies: C ranks first after it and is alive (heard from): A waits for C's claim.
    alive.delete('B')
    expect(claims(a.tick(6100))).toEqual([])
    alive.delete('C')
    expect(claims(a.tick(6200)).map(c => c.term)).toEqual([6, 6])
  })

  it('a member out of sight that never said anything about the job stays unknown: the first live backup claims past it', () => {
    const alive = new Set(['B'])
    const b = holder('B', alive)
    b.replicaArriving('C', replica(), 0)
    b.replicaStored('C', replica(), 0)
    // A ranks before B but was out of sight when B made its replica, and has said nothing since:
    // it may be a restarted process without the job, so B claims once C is gone.
    alive.add('A')
    expect(claims(b.tick(10)).map(c => c.to)).toEqual(['C', 'A'])
  })
})

describe('replica holder: the orphan backstop', () => {
  it('the coordinator on record that no longer coordinates claims again after the claim timeout', () => {
    const coordinating = new Set([JOB])
    const c = holder('C', new Set(['C', 'A', 'B']), coordinating)
    c.track(JOB, SET, 'C', 1, 0)
    c.replicaStored('C', replica(), 0) // its own replica (the store keeps the table for a takeover)
    coordinating.delete(JOB) // it yielded to a claim whose claimer never took over
    expect(claims(c.tick(1000))).toEqual([])
    expect(claims(c.tick(6000))).toEqual([])
    const out = c.tick(6001)
    expect(of(out, 'claim')).toEqual([{ type: 'claim', jobId: JOB, term: 2, coordinator: 'C', why: 'orphaned' }])
    // While it coordinates, the clock does not run.
    coordinating.add(JOB)
    const again = holder('C', new Set(['C']), coordinating)
    again.track(JOB, SET, 'C', 1, 0)
    again.replicaStored('C', replica(), 0)
    expect(claims(again.tick(60_000))).toEqual([])
  })

  it('a coordinator that yielded at a refused commit a majority had accepted claims again and announces the accepted record', () => {
    // DST seed 44: B (cut off) had promised a claim; C's commit reached A (yes) and B (no, higher
    // term); B's refusal came first, so C yielded, with the record decided and nobody to publish it.
    const coordinating = new Set([JOB])
    const c = holder('C', new Set(['C', 'A', 'B']), coordinating)
    c.track(JOB, SET, 'C', 1, 0)
    expect(c.voteOwnCommit(JOB, 1, record(1))).toBe(true)
    coordinating.delete(JOB)
    expect(c.tick(5000)).toEqual([]) // the coordinator on record is alive (itself): no announcement
    const out = c.tick(10_001)
    expect(claims(out)).toEqual([{ to: 'A', term: 2 }, { to: 'B', term: 2 }])
    const settled = c.onClaimReply('A', { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 1, final: record(1) })
    expect(of(settled, 'record')).toEqual([{ type: 'record', record: record(1) }])
    expect(of(settled, 'send').map(e => e.to).sort()).toEqual(['A', 'B', 'S'])
    expect(c.get(JOB)?.final?.term).toBe(1)
    // A majority that promised without a record first does not make its own accepted record the
    // outcome (it is not known to be decided); the round stays open for A's reply, which settles it.
    const d = holder('C', new Set(['C', 'A', 'B']), new Set())
    d.track(JOB, SET, 'C', 1, 0)
    d.voteOwnCommit(JOB, 1, record(1))
    d.tick(0)
    d.tick(5001)
    expect(d.onClaimReply('B', { t: 'job.claimReply', jobId: JOB, term: 2, ok: true, promisedTerm: 2 })).toEqual([])
    expect(d.get(JOB)?.final).toBeUndefined()
    expect(of(d.onClaimReply('A', { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 1, final: record(1) }), 'record')).toEqual([{ type: 'record', record: record(1) }])
  })

  it('a commit accepted from a coordinator that then died is announced as final', () => {
    const a = backup('A', new Set(['A', 'C']))
    const voted = a.onCommit('C', { t: 'job.commit', jobId: JOB, term: 1, record: record(1) }, 10)
    expect(of(voted, 'send')[0]!.message).toMatchObject({ t: 'job.commitReply', ok: true })
    expect(a.tick(20)).toEqual([]) // C alive: it publishes
    const b = backup('B', new Set(['B']))
    b.onCommit('C', { t: 'job.commit', jobId: JOB, term: 1, record: record(1) }, 10)
    const out = b.tick(20) // C and A gone: B makes the decided record known
    expect(of(out, 'record')).toEqual([{ type: 'record', record: record(1) }])
    expect(of(out, 'send').map(e => e.to).sort()).toEqual(['A', 'C', 'S'])
    expect(claims(out)).toEqual([])
  })
})
