import { describe, expect, it } from 'vitest'
import { ReplicaHolder, type HolderEffect } from '../../src/jobs/replica-holder.js'
import { CoordinatedJobs, type CoordinatorEffect } from '../../src/jobs/coordinated-jobs.js'
import type { JobRecord, JobSpec } from '../../src/jobs/job-spec.js'
import type { WorkerView } from '../../src/jobs/scheduler.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { seededRandom } from '../../src/util/prng.js'

// Cancel as a tombstone every holder of the job keeps (src/jobs/replica-holder.ts), so it
// works without a majority: replica set [C, A, B], C coordinates, X cancels through its API.

const JOB = 'j1'
const SET = ['C', 'A', 'B']
const spec = { jobId: JOB, kind: 'function', codeHash: 'h'.repeat(64), moduleName: 'm', priority: 'normal', submitter: 'S', submittedAtMs: 0, replicaSet: SET } as JobSpec
const replica = (term = 1): Extract<RpcMessage, { t: 'job.replica' }> => ({ t: 'job.replica', spec, code: 'x', chunks: [0, 1, 2], replicaSet: SET, term })
const rec = (state: JobRecord['state'], term = 1, extra: Partial<JobRecord> = {}): JobRecord => ({
  jobId: JOB, kind: 'function', moduleName: 'm', state, coordinator: 'C', term, replicaSet: SET, submitter: 'S', priority: 'normal',
  tasks: 3, done: 1, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0, ...extra,
})
const cancelMsg = (record?: JobRecord): Extract<RpcMessage, { t: 'job.cancel' }> => ({ t: 'job.cancel', jobId: JOB, ...(record !== undefined ? { record } : {}) })

/** `boots`: each peer in sight and its boot id (change one to model a restart). */
function holder (self: string, boots: Map<string, string>, coordinating = new Set<string>()) {
  return new ReplicaHolder({
    selfId: self,
    liveBoot: p => boots.get(p),
    alivePeers: () => [...boots.keys()],
    coordinates: jobId => coordinating.has(jobId),
  }, { retentionMs: 60_000, claimTimeoutMs: 5000 })
}
function backup (self: string, boots: Map<string, string>) {
  const h = holder(self, boots)
  h.replicaArriving('C', replica(), 0)
  h.replicaStored('C', replica(), 0)
  return h
}
const bootsOf = (...peers: string[]): Map<string, string> => new Map(peers.map(p => [p, `boot-${p}`]))

const of = <T extends HolderEffect['type']>(effects: HolderEffect[], type: T): Array<Extract<HolderEffect, { type: T }>> =>
  effects.filter((e): e is Extract<HolderEffect, { type: T }> => e.type === type)
const sends = (effects: HolderEffect[], t: RpcMessage['t']): Array<{ to: string, message: RpcMessage }> => of(effects, 'send').filter(e => e.message.t === t)

describe('cancel: the tombstone on each holder', () => {
  it('a backup told of a cancel keeps a tombstone, acknowledges it, and never claims the job, even with its coordinator dead', () => {
    const boots = bootsOf('A', 'B')
    const a = backup('A', boots)
    const told = a.onCancel('X', cancelMsg(rec('cancelled')), 10)
    expect(told).toEqual([
      { type: 'cancelled', jobId: JOB, record: rec('cancelled') },
      { type: 'send', to: 'X', message: { t: 'job.cancelAck', jobId: JOB } },
    ])
    expect(a.isCancelled(JOB)).toBe(true)
    expect(a.get(JOB)?.chunks).toBeUndefined() // nothing here will run it again
    // C is dead and A is its first backup: without the tombstone, A would claim now.
    expect(of(a.tick(100), 'claim')).toEqual([])
    expect(of(a.tick(60_000), 'claim')).toEqual([])
    expect(a.onHandover('C', { t: 'job.handover', jobId: JOB, term: 1 }, 100).some(e => e.type === 'claim')).toBe(false)
    // Told twice: one tombstone, acknowledged again.
    expect(a.onCancel('Y', cancelMsg(), 11)).toEqual([{ type: 'send', to: 'Y', message: { t: 'job.cancelAck', jobId: JOB } }])
  })

  it('a coordinator reminded of a cancel it holds is told to cancel the job again (the binding\'s cancel is idempotent)', () => {
    const c = holder('C', bootsOf('C', 'A', 'B'), new Set([JOB]))
    c.track(JOB, SET, 'C', 1, 0)
    expect(of(c.onCancel('X', cancelMsg(rec('cancelled')), 10), 'cancelled')).toHaveLength(1)
    expect(of(c.onCancel('A', cancelMsg(), 20), 'cancelled')).toEqual([{ type: 'cancelled', jobId: JOB, record: rec('cancelled') }])
  })

  it('refuses claims with "cancelled", promising nothing; the claimer keeps a tombstone and takes nothing over, whatever the others vote', () => {
    const boots = bootsOf('A', 'B')
    const a = backup('A', boots)
    const b = backup('B', boots)
    b.onCancel('X', cancelMsg(), 5)
    const claimed = a.tick(10)
    const term = (sends(claimed, 'job.claim')[0]!.message as { term: number }).term
    const reply = b.onClaim('A', { t: 'job.claim', jobId: JOB, term })
    expect(reply).toEqual([{ type: 'send', to: 'A', message: { t: 'job.claimReply', jobId: JOB, term, ok: false, promisedTerm: 1, cancelled: true } }])
    expect(b.get(JOB)!.state.promisedTerm).toBe(1)
    const learnt = a.onClaimReply('B', (reply[0] as { message: Extract<RpcMessage, { t: 'job.claimReply' }> }).message, 20)
    expect(learnt).toEqual([{ type: 'cancelled', jobId: JOB, record: undefined }])
    // C, restarted with nothing, would say yes: the claim is over, nothing is taken over.
    expect(a.onClaimReply('C', { t: 'job.claimReply', jobId: JOB, term, ok: true, promisedTerm: term }, 21)).toEqual([])
    expect(of(a.tick(10_000), 'claim')).toEqual([])
  })

  it('the issue\'s poison pill: coordinator and a backup killed, the survivor cancelled, the dead restarted: nobody reclaims the job', () => {
    // Without the cancel, B claims as soon as C and A are back under new boots (they forgot the job) and wins their votes.
    const controlBoots = bootsOf('B', 'C', 'A')
    const control = backup('B', controlBoots)
    controlBoots.delete('C')
    controlBoots.delete('A')
    controlBoots.set('C', 'boot-C2')
    controlBoots.set('A', 'boot-A2')
    expect(sends(control.tick(100), 'job.claim').map(e => e.to)).toEqual(['C', 'A'])
    // With it: B, alone of the set, is told; C and A come back under new boots; no claim, ever.
    const boots = bootsOf('B', 'C', 'A')
    const b = backup('B', boots)
    boots.delete('C')
    boots.delete('A')
    b.onCancel('X', cancelMsg(rec('cancelled')), 50)
    boots.set('C', 'boot-C2')
    boots.set('A', 'boot-A2')
    for (const now of [100, 6000, 20_000]) expect(of(b.tick(now), 'claim')).toEqual([])
    // And a node that restarted, was told of the cancel and never saw the job refuses a claim too.
    const c = holder('C', boots)
    c.onCancel('X', cancelMsg(rec('cancelled')), 60)
    expect(c.onClaim('A', { t: 'job.claim', jobId: JOB, term: 2 })).toEqual([{ type: 'send', to: 'A', message: { t: 'job.claimReply', jobId: JOB, term: 2, ok: false, promisedTerm: 1, cancelled: true } }])
  })

  it('tells a coordinator still running the job to cancel it: its replica (acknowledged), progress, updates, confirm, takeover', () => {
    const a = backup('A', bootsOf('A', 'B', 'C'))
    a.onCancel('X', cancelMsg(rec('cancelled')), 10)
    const told = (effects: HolderEffect[]): string[] => sends(effects, 'job.cancel').map(e => e.to)
    expect(told(a.onProgress('C', { t: 'job.progress', jobId: JOB, term: 1, peers: ['W'], done: [[1, 0, 'r']] }, 20))).toEqual(['C'])
    expect(a.get(JOB)?.done.size).toBe(0) // its results are not kept
    // At most once a second.
    expect(told(a.noteRecord(rec('running'), 'C', 500))).toEqual([])
    expect(told(a.noteRecord(rec('running'), 'C', 1020))).toEqual(['C'])
    const stored = a.replicaStored('C', replica(), 1030)
    expect(sends(stored, 'job.replicaAck').map(e => e.to)).toEqual(['C'])
    expect(told(a.onConfirm('C', { t: 'job.confirm', jobId: JOB, term: 1 }, 2100))).toEqual(['C'])
    // Another member took it over without hearing of the cancel: told at once.
    expect(told(a.onTakeover('B', { t: 'job.takeover', jobId: JOB, term: 2, coordinator: 'B' }))).toEqual(['B'])
    const cancel = sends(a.onTakeover('B', { t: 'job.takeover', jobId: JOB, term: 4, coordinator: 'B' }), 'job.cancel')[0]!.message
    expect(cancel).toEqual(cancelMsg(rec('cancelled')))
  })

  it('keeps voting on commits as before: a result a majority accepts stands over the cancel', () => {
    const a = backup('A', bootsOf('A', 'B'))
    a.onCancel('X', cancelMsg(), 10)
    const done = rec('done', 1, { result: 42, done: 3 })
    expect(a.onCommit('C', { t: 'job.commit', jobId: JOB, term: 1, record: done }, 20)).toEqual([{ type: 'send', to: 'C', message: { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 } }])
    // Its coordinator died before publishing: the accepted result is announced all the same.
    const announced = a.tick(100)
    expect(of(announced, 'record')).toEqual([{ type: 'record', record: done }])
    // And a later cancel is answered with it.
    expect(a.onCancel('Y', cancelMsg(), 200)).toEqual([{ type: 'send', to: 'Y', message: { t: 'job.cancelAck', jobId: JOB, final: done } }])
  })

  it('is kept as long as a finished job, then forgotten', () => {
    const a = backup('A', bootsOf('A'))
    a.onCancel('X', cancelMsg(), 10)
    a.onCancel('X', { t: 'job.cancel', jobId: 'other' }, 30_000)
    expect(a.get(JOB)).toBeDefined()
    a.onCancel('X', { t: 'job.cancel', jobId: 'third' }, 60_011) // a new entry evicts what is past retention
    expect(a.get(JOB)).toBeUndefined()
    expect(a.get('other')).toBeDefined()
  })
})

describe('cancel: the cancelling node', () => {
  it('sends the cancel to every peer in sight, again until each acknowledges it, at once to one that comes back', () => {
    const boots = bootsOf('X', 'B')
    const x = holder('X', boots)
    const record = rec('cancelled')
    const out = x.cancel(record, ['C', 'A', 'B', 'S', 'X'], 0)
    expect(of(out, 'cancelled')).toEqual([{ type: 'cancelled', jobId: JOB, record }])
    expect(sends(out, 'job.cancel')).toEqual([{ type: 'send', to: 'B', message: cancelMsg(record) }]) // C, A and S are out of sight
    expect(x.isCancelled(JOB)).toBe(true)
    expect(x.pending).toBe(true)
    const to = (effects: HolderEffect[]): string[] => sends(effects, 'job.cancel').map(e => e.to).sort()
    expect(to(x.tick(999))).toEqual([])
    expect(to(x.tick(1000))).toEqual(['B'])
    // C restarts (a new boot): told at once, not at the next retry.
    boots.set('C', 'boot-C2')
    expect(to(x.tick(1100))).toEqual(['C'])
    expect(to(x.tick(1200))).toEqual([])
    x.onCancelAck('B', { t: 'job.cancelAck', jobId: JOB })
    expect(to(x.tick(2999))).toEqual([])
    expect(to(x.tick(3000))).toEqual(['C']) // retries double: 1 s, 2 s, 4 s…
    x.onCancelAck('C', { t: 'job.cancelAck', jobId: JOB })
    boots.set('A', 'boot-A')
    boots.set('S', 'boot-S')
    expect(to(x.tick(3100))).toEqual(['A', 'S'])
    x.onCancelAck('A', { t: 'job.cancelAck', jobId: JOB })
    x.onCancelAck('S', { t: 'job.cancelAck', jobId: JOB })
    expect(x.pending).toBe(false)
    expect(to(x.tick(100_000))).toEqual([])
  })

  it('learns a result that already stands from an acknowledgement and stops sending', () => {
    const x = holder('X', bootsOf('X', 'A', 'B'))
    x.cancel(rec('cancelled'), ['C', 'A', 'B'], 0)
    const done = rec('done', 1, { result: 42 })
    expect(x.onCancelAck('A', { t: 'job.cancelAck', jobId: JOB, final: done })).toEqual([{ type: 'record', record: done }])
    expect(x.isCancelled(JOB)).toBe(false)
    expect(sends(x.tick(5000), 'job.cancel')).toEqual([])
    // An acknowledgement from a peer it never asked is ignored.
    expect(x.onCancelAck('Z', { t: 'job.cancelAck', jobId: JOB, final: rec('failed') })).toEqual([])
  })

  it('a job this node knows finished is not cancelled: its final record is shown', () => {
    const a = backup('A', bootsOf('A'))
    const done = rec('done', 1, { result: 42 })
    a.noteRecord(done)
    expect(a.cancel(rec('cancelled'), SET, 10)).toEqual([{ type: 'record', record: done }])
    expect(a.isCancelled(JOB)).toBe(false)
  })
})

// ---- the coordinator's side ----

function worker (peerId: string): WorkerView {
  return { peerId, slotsTotal: 4, slotsFree: 4, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' }
}
const WORKERS = [worker('W1'), worker('W2')]
const cof = <T extends CoordinatorEffect['type']>(effects: CoordinatorEffect[], type: T): Array<Extract<CoordinatorEffect, { type: T }>> =>
  effects.filter((e): e is Extract<CoordinatorEffect, { type: T }> => e.type === type)
const csent = (effects: CoordinatorEffect[], t: string): Array<{ to: string, message: RpcMessage }> => cof(effects, 'send').filter(e => e.message.t === t)

function coordinator () {
  const holder = new ReplicaHolder({ selfId: 'C', liveBoot: p => `boot-${p}`, alivePeers: () => [], coordinates: () => true }, { retentionMs: 60_000 })
  const core = new CoordinatedJobs({ selfId: 'C', workers: () => WORKERS }, { scheduler: { taskTimeoutMs: 60_000 }, random: seededRandom(7), commitRetryMs: 1000 }, holder)
  const split = core.submit(spec, 1, SET, 0).find(e => e.type === 'split')
  if (split?.type !== 'split') throw new Error('no split effect')
  const started = core.splitDone(JOB, split.instance, [0, 1, 2], 10, 10)
  const finishTasks = (now: number): CoordinatorEffect[] => cof(started, 'assign').flatMap(a =>
    core.taskResult(a.to, { jobId: JOB, taskIndex: a.message.taskIndex, attemptId: a.message.attemptId, outcome: 'ok', value: a.message.taskIndex, runMs: 1 }, now, now))
  return { holder, core, instance: split.instance, started, finishTasks }
}

describe('cancel: the coordinator', () => {
  it('a cancel while the confirm is out commits "cancelled"; no reduce follows the confirm', () => {
    const { core, finishTasks } = coordinator()
    expect(csent(finishTasks(20), 'job.confirm')).toHaveLength(2)
    const cancelled = core.cancel(JOB, 30, 30)
    const commit = csent(cancelled, 'job.commit')
    expect(commit).toHaveLength(2)
    expect((commit[0]!.message as Extract<RpcMessage, { t: 'job.commit' }>).record).toMatchObject({ state: 'cancelled', done: 3 })
    expect(cof(core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 40, 40), 'reduce')).toEqual([])
    const won = core.commitReply('A', { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 50)
    expect(cof(won, 'published')[0]?.record.state).toBe('cancelled')
  })

  it('a cancel while reducing commits "cancelled"; the reduce\'s answer then changes nothing', () => {
    const { core, instance, finishTasks } = coordinator()
    finishTasks(20)
    expect(cof(core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 30, 30), 'reduce')).toHaveLength(1)
    expect((csent(core.cancel(JOB, 40, 40), 'job.commit')[0]?.message as Extract<RpcMessage, { t: 'job.commit' }>).record.state).toBe('cancelled')
    expect(core.reduced(JOB, instance, { ok: true, value: 3 }, 50, 50)).toEqual([])
  })

  it('a result already in its commit round is never replaced by "cancelled"', () => {
    const { core, holder, instance, finishTasks } = coordinator()
    finishTasks(20)
    core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 30, 30)
    expect(csent(core.reduced(JOB, instance, { ok: true, value: 3 }, 40, 40), 'job.commit')).toHaveLength(2)
    // The cancel reaches this node now: a tombstone, and the binding cancels the job here, which changes nothing.
    expect(holder.onCancel('X', cancelMsg(), 45).map(e => e.type)).toEqual(['cancelled', 'send'])
    expect(core.cancel(JOB, 50, 50)).toEqual([])
    expect(cof(core.commitReply('B', { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 60), 'published')[0]?.record).toMatchObject({ state: 'done', result: 3 })
  })

  it('a job cancelled here and sent again is not split: the submitter is told', () => {
    const holder = new ReplicaHolder({ selfId: 'D', liveBoot: p => `boot-${p}`, alivePeers: () => [], coordinates: () => false }, { retentionMs: 60_000 })
    const core = new CoordinatedJobs({ selfId: 'D', workers: () => WORKERS }, { scheduler: {}, random: seededRandom(1) }, holder)
    holder.onCancel('X', cancelMsg(rec('cancelled')), 0)
    const out = core.submit({ ...spec, standby: 'T' }, 3, SET, 10)
    expect(cof(out, 'split')).toEqual([])
    expect(csent(out, 'job.cancel').map(e => e.to)).toEqual(['S', 'T'])
    expect(core.coordinates(JOB)).toBe(false)
    expect(core.adopt({ spec, chunks: [0, 1, 2], done: new Map(), term: 2, replicaSet: SET }, 20, 20)).toEqual([])
    expect(core.coordinates(JOB)).toBe(false)
  })
})
