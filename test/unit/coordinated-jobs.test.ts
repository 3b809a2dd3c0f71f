import { describe, expect, it } from 'vitest'
import { ReplicaHolder } from '../../src/jobs/replica-holder.js'
import { CoordinatedJobs, type CoordinatorEffect } from '../../src/jobs/coordinated-jobs.js'
import type { JobSpec } from '../../src/jobs/job-spec.js'
import type { WorkerView } from '../../src/jobs/scheduler.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { seededRandom } from '../../src/util/prng.js'

// The coordinator's lifecycle core on its own: events in, effects out, time and randomness
// from the test. Coordinator C, backups A and B, workers W1 and W2.

const SET = ['C', 'A', 'B']
const JOB = 'j1'

function worker (peerId: string): WorkerView {
  return { peerId, slotsTotal: 4, slotsFree: 4, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' }
}
const WORKERS = [worker('W1'), worker('W2')]

function spec (kind: JobSpec['kind'] = 'function'): JobSpec {
  return { jobId: JOB, kind, codeHash: 'h'.repeat(64), moduleName: 'm', priority: 'normal', submitter: 'S', submittedAtMs: 0, replicaSet: SET }
}

function setup (opts: { kind?: JobSpec['kind'], tasks?: number, replicaSet?: string[] } = {}) {
  const holder = new ReplicaHolder({ selfId: 'C', liveBoot: () => 'boot', alivePeers: () => [], coordinates: () => true }, { retentionMs: 60_000 })
  const core = new CoordinatedJobs({ selfId: 'C', workers: () => WORKERS }, { scheduler: { taskTimeoutMs: 60_000 }, random: seededRandom(7), commitRetryMs: 1000 }, holder)
  const set = opts.replicaSet ?? SET
  const submitted = core.submit({ ...spec(opts.kind), replicaSet: set }, 1, set, 0)
  const split = submitted.find(e => e.type === 'split')
  if (split?.type !== 'split') throw new Error('no split effect')
  const chunks = Array.from({ length: opts.tasks ?? 3 }, (_, i) => i)
  const started = core.splitDone(JOB, split.instance, chunks, 10, 10)
  return { core, holder, instance: split.instance, effects: [...submitted, ...started] }
}

const of = <T extends CoordinatorEffect['type']>(effects: CoordinatorEffect[], type: T): Array<Extract<CoordinatorEffect, { type: T }>> =>
  effects.filter((e): e is Extract<CoordinatorEffect, { type: T }> => e.type === type)
const sent = (effects: CoordinatorEffect[], t: string): Array<{ to: string, message: { t: string } }> =>
  of(effects, 'send').filter(e => e.message.t === t)

/** Answer every assignment in `effects` with a result; returns the effects that follow. */
function completeAll (core: CoordinatedJobs, effects: CoordinatorEffect[], now: number): CoordinatorEffect[] {
  const out: CoordinatorEffect[] = []
  for (const a of of(effects, 'assign')) {
    out.push(...core.taskResult(a.to, { jobId: a.message.jobId, taskIndex: a.message.taskIndex, attemptId: a.message.attemptId, outcome: 'ok', value: a.message.taskIndex * 10, runMs: 1 }, now, now))
  }
  return out
}

describe('coordinated jobs: replication', () => {
  it('sends the replica again, at doubling intervals, with the results so far, until each backup acknowledges it', () => {
    const { core, instance, effects } = setup()
    expect(of(effects, 'sendReplica')).toHaveLength(1)
    expect(core.replicaMessage(JOB, instance, 10)?.to).toEqual(['A', 'B'])
    const assigned = of(effects, 'assign')
    const first = assigned[0]!
    core.taskResult(first.to, { jobId: JOB, taskIndex: first.message.taskIndex, attemptId: first.message.attemptId, outcome: 'ok', value: 'r', runMs: 1 }, 20, 20)
    expect(of(core.tick(WORKERS, 1009, 1009), 'sendReplica')).toHaveLength(0)
    expect(of(core.tick(WORKERS, 1010, 1010), 'sendReplica')).toHaveLength(1)
    expect(core.replicaMessage(JOB, instance, 1010)?.message.done).toEqual([[first.message.taskIndex, first.to, 'r']])
    core.replicaAck('A', { t: 'job.replicaAck', jobId: JOB, term: 1 })
    core.replicaAck('B', { t: 'job.replicaAck', jobId: JOB, term: 0 }) // another term: not this replica
    expect(core.replicaMessage(JOB, instance, 1010)?.to).toEqual(['B'])
    // The next re-send waits 2 s, the one after 4 s: a backup slow to read a big replica is not flooded.
    const waiting = core.tick(WORKERS, 3009, 3009)
    expect(of(waiting, 'sendReplica')).toHaveLength(0)
    expect(of(waiting, 'record').at(-1)?.record.replicated).toBe(false)
    expect(of(core.tick(WORKERS, 3010, 3010), 'sendReplica')).toHaveLength(1)
    expect(of(core.tick(WORKERS, 7009, 7009), 'sendReplica')).toHaveLength(0)
    expect(of(core.tick(WORKERS, 7010, 7010), 'sendReplica')).toHaveLength(1)
    core.replicaAck('B', { t: 'job.replicaAck', jobId: JOB, term: 1 })
    const after = core.tick(WORKERS, 20_000, 20_000)
    expect(of(after, 'sendReplica')).toHaveLength(0)
    expect(of(after, 'record').at(-1)?.record.replicated).toBe(true)
    expect(core.replicaMessage(JOB, instance, 20_000)).toBeUndefined()
  })

  it('does not send a big replica again before a backup could have read it', () => {
    const { core, instance } = setup()
    core.replicaMessage(JOB, instance, 10)
    core.replicaSize(JOB, instance, 200_000_000) // 200 MB at 20 MB/s: 10 s
    expect(of(core.tick(WORKERS, 1010, 1010), 'sendReplica')).toHaveLength(0)
    expect(of(core.tick(WORKERS, 10_009, 10_009), 'sendReplica')).toHaveLength(0)
    expect(of(core.tick(WORKERS, 10_010, 10_010), 'sendReplica')).toHaveLength(1)
    // and never waits past the cap, however big
    core.replicaMessage(JOB, instance, 10_010)
    core.replicaSize(JOB, instance, 10_000_000_000)
    expect(of(core.tick(WORKERS, 40_010, 40_010), 'sendReplica')).toHaveLength(1)
  })

  it('results go to the backups at once when rare, at most every replicate interval when many; the coordinator keeps them too', () => {
    const { core, holder, effects } = setup({ tasks: 4 })
    const [a, b, c] = of(effects, 'assign')
    const result = (x: typeof a, now: number): CoordinatorEffect[] => core.taskResult(x!.to, { jobId: JOB, taskIndex: x!.message.taskIndex, attemptId: x!.message.attemptId, outcome: 'ok', value: 'v', runMs: 1 }, now, now)
    expect(of(result(a, 20), 'flushLater')).toEqual([{ type: 'flushLater', afterMs: 0 }])
    const flushed = core.flushProgress(20)
    expect(sent(flushed, 'job.progress').map(e => e.to)).toEqual(['A', 'B'])
    expect(holder.get(JOB)?.done.size).toBe(1) // the coordinator's own copy, to claim the job back after yielding
    expect(holder.get(JOB)?.chunks).toEqual([0, 1, 2, 3])
    expect(of(result(b, 30), 'flushLater')).toEqual([{ type: 'flushLater', afterMs: 15 }])
    expect(of(result(c, 31), 'flushLater')).toEqual([]) // already scheduled
    const progress = sent(core.flushProgress(45), 'job.progress')[0]!.message as Extract<RpcMessage, { t: 'job.progress' }>
    expect(progress.done.map(([i, peer, v]) => [i, progress.peers[peer], v])).toEqual([[b!.message.taskIndex, b!.to, 'v'], [c!.message.taskIndex, c!.to, 'v']])
    expect(progress.peers).toEqual([...new Set([b!.to, c!.to])]) // each peer id once
  })

  it('a stopping node takes no job and commits no failure of its own shutdown', () => {
    const { core, instance } = setup()
    core.stop()
    expect(core.submit({ ...spec(), jobId: 'j2' }, 1, SET, 20)).toEqual([])
    expect(of(core.splitFailed(JOB, instance, 'split failed: pool closed', 30, 30), 'committing')).toEqual([])
  })

  it('a replica set of one is replicated at once', () => {
    const { effects } = setup({ replicaSet: ['C'] })
    expect(of(effects, 'sendReplica')).toHaveLength(0)
    expect(of(effects, 'record').at(-1)?.record.replicated).toBe(true)
  })
})

describe('coordinated jobs: confirm, reduce, commit', () => {
  it('reduces only after a majority confirms the term, and reduces and publishes exactly once', () => {
    const { core, instance, effects } = setup()
    const done = completeAll(core, effects, 50)
    expect(of(done, 'reduce')).toHaveLength(0)
    expect(sent(done, 'job.confirm').map(e => e.to)).toEqual(['A', 'B'])
    expect(of(core.tick(WORKERS, 1049, 1049), 'send').filter(e => e.message.t === 'job.confirm')).toHaveLength(0)
    expect(sent(core.tick(WORKERS, 1050, 1050), 'job.confirm')).toHaveLength(2) // retried
    const confirmed = core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 1100, 1100)
    const reduce = of(confirmed, 'reduce')
    expect(reduce).toHaveLength(1)
    expect(reduce[0]!.results).toEqual([0, 10, 20])
    expect(of(core.confirmReply('B', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 1101, 1101), 'reduce')).toHaveLength(0)
    const committing = core.reduced(JOB, instance, { ok: true, value: 30 }, 1200, 1200)
    expect(sent(committing, 'job.commit')).toHaveLength(2)
    expect(core.reduced(JOB, instance, { ok: true, value: 31 }, 1201, 1201)).toEqual([]) // a second reduce answer changes nothing
    const won = core.commitReply('B', { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 1300)
    const published = of(won, 'published')
    expect(published).toHaveLength(1)
    expect(published[0]!.record).toMatchObject({ state: 'done', result: 30, term: 1, done: 3 })
    expect(core.commitReply('A', { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 1301)).toEqual([])
    expect(core.coordinates(JOB)).toBe(false)
  })

  it('a refused confirm with a higher term yields instead of reducing', () => {
    const { core, effects } = setup()
    completeAll(core, effects, 50)
    const lost = core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: false, promisedTerm: 2 }, 60, 60)
    expect(of(lost, 'reduce')).toHaveLength(0)
    expect(of(lost, 'yielded')).toEqual([{ type: 'yielded', jobId: JOB, term: 2 }])
    expect(core.coordinates(JOB)).toBe(false)
  })

  it('a commit refused for a higher term yields and publishes nothing', () => {
    const { core, instance, effects } = setup()
    completeAll(core, effects, 50)
    core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 60, 60)
    core.reduced(JOB, instance, { ok: true, value: 30 }, 70, 70)
    const lost = core.commitReply('A', { t: 'job.commitReply', jobId: JOB, term: 1, ok: false, promisedTerm: 4 }, 80)
    expect(of(lost, 'published')).toHaveLength(0)
    expect(of(lost, 'yielded')).toEqual([{ type: 'yielded', jobId: JOB, term: 4 }])
    expect(core.commitReply('B', { t: 'job.commitReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 90)).toEqual([])
  })

  it('an action job skips the reduce; its own commit vote fails once the holder promised a higher term', () => {
    const { core, holder, effects } = setup({ kind: 'action' })
    holder.onClaim('A', { t: 'job.claim', jobId: JOB, term: 2 }) // this node promised term 2 to A's claim
    const done = completeAll(core, effects, 50)
    const confirmed = core.confirmReply('B', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 60, 60)
    expect(of([...done, ...confirmed], 'reduce')).toHaveLength(0)
    expect(of(confirmed, 'published')).toHaveLength(0)
    expect(of(confirmed, 'yielded')).toEqual([{ type: 'yielded', jobId: JOB, term: 2 }])
  })
})

describe('coordinated jobs: terms', () => {
  it('a worker that saw a higher term makes the coordinator yield and abort its attempts', () => {
    const { core, effects } = setup({ tasks: 4 })
    const [a, ...rest] = of(effects, 'assign')
    const out = core.taskResult(a!.to, { jobId: JOB, taskIndex: a!.message.taskIndex, attemptId: a!.message.attemptId, outcome: 'staleTerm', error: 'stale-term: 2' }, 20, 20)
    expect(of(out, 'yielded')).toEqual([{ type: 'yielded', jobId: JOB, term: 2 }])
    // Every attempt still running is aborted (the refusing worker's too: the scheduler still counts it).
    expect(of(out, 'abort').map(e => e.attemptId).sort()).toEqual([a!, ...rest].map(e => e.message.attemptId).sort())
    expect(core.coordinates(JOB)).toBe(false)
    expect(of(out, 'attemptEnded')).toHaveLength(0)
  })

  it('ignores a lower or equal term, a result from another worker, and a submit of a term it already has', () => {
    const { core, effects } = setup()
    expect(core.yieldJob(JOB, 1, 20)).toEqual([])
    const a = of(effects, 'assign')[0]!
    const other = a.to === 'W1' ? 'W2' : 'W1'
    expect(core.taskResult(other, { jobId: JOB, taskIndex: a.message.taskIndex, attemptId: a.message.attemptId, outcome: 'ok', value: 1, runMs: 1 }, 20, 20)).toEqual([])
    expect(core.submit(spec(), 1, SET, 20)).toEqual([])
    expect(core.coordinates(JOB)).toBe(true)
  })

  it('a split or reduce answer for a superseded instance is dropped', () => {
    const { core, instance, effects } = setup()
    completeAll(core, effects, 50)
    core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 60, 60)
    // A higher-term submission replaces the job while its reduce runs.
    const resubmitted = core.submit(spec(), 3, SET, 70)
    const split = of(resubmitted, 'split')[0]!
    expect(split.instance).not.toBe(instance)
    expect(core.reduced(JOB, instance, { ok: true, value: 30 }, 80, 80)).toEqual([])
    expect(core.splitDone(JOB, instance, [1], 80, 80)).toEqual([])
    expect(of(core.splitDone(JOB, split.instance, [1, 2], 90, 90), 'assign').length).toBeGreaterThan(0)
  })

  it('adopting a replica restores its results and schedules only the rest', () => {
    const holder = new ReplicaHolder({ selfId: 'A', liveBoot: () => 'boot', alivePeers: () => [], coordinates: () => true }, { retentionMs: 60_000 })
    const core = new CoordinatedJobs({ selfId: 'A', workers: () => WORKERS }, { scheduler: {}, random: seededRandom(3) }, holder)
    const out = core.adopt({ spec: spec(), chunks: [0, 1, 2], done: new Map([[0, ['W1', 0]], [2, ['W2', 20]]]), term: 2, replicaSet: SET }, 0, 0)
    expect(of(out, 'assign').map(a => a.message.taskIndex)).toEqual([1])
    expect(of(out, 'assign')[0]!.message.term).toBe(2)
    expect(of(out, 'record').at(-1)?.record).toMatchObject({ state: 'running', coordinator: 'A', term: 2, replicated: true, tasksByPeer: { W1: 1, W2: 1 } })
  })
})

describe('coordinated jobs: groups of tiny tasks', () => {
  it('a kept job\'s group carries its tasks\' chunks, and its one answer completes, replicates and reduces each task', () => {
    const holder = new ReplicaHolder({ selfId: 'C', liveBoot: () => 'boot', alivePeers: () => [], coordinates: () => true }, { retentionMs: 60_000 })
    const workers = [{ ...worker('C'), slotsTotal: 2, slotsFree: 2 }, worker('W1')]
    const core = new CoordinatedJobs({ selfId: 'C', workers: () => workers }, { scheduler: { taskTimeoutMs: 60_000 }, random: seededRandom(7), commitRetryMs: 1000 }, holder)
    const split = core.submit(spec(), 1, SET, 0).find(e => e.type === 'split')
    if (split?.type !== 'split') throw new Error('no split effect')
    const chunks = Array.from({ length: 300 }, (_, i) => `c${i}`)
    let pending = of(core.splitDone(JOB, split.instance, chunks, 10, 10), 'assign')
    const groups: Array<Extract<RpcMessage, { t: 'task.assign' }>> = []
    const effects: CoordinatorEffect[] = []
    // Every task ran 1 µs: the job is kept on C, in groups.
    for (let now = 20; pending.length > 0; now++) {
      const a = pending.shift()!
      const m = a.message
      if (m.group !== undefined) groups.push(m)
      const out = core.taskResult(a.to, { jobId: JOB, taskIndex: m.taskIndex, attemptId: m.attemptId, outcome: 'ok', value: `r${m.taskIndex}`, runMs: 0.001, ...(m.group !== undefined ? { group: m.group.map(([i]) => [i, `r${i}`] as const) } : {}) }, now, now)
      effects.push(...out)
      pending.push(...of(out, 'assign'))
    }
    expect(groups.length).toBeGreaterThan(10)
    const g = groups[0]!
    expect(g.chunk).toBe(chunks[g.taskIndex])
    expect(g.group!.every(([i, chunk]) => chunk === chunks[i])).toBe(true)
    expect(of(effects, 'assign').filter(a => a.message.group !== undefined).every(a => a.to === 'C')).toBe(true)
    // Every task's result reaches the backups and the reduce, in chunk order.
    effects.push(...core.flushProgress(10_000))
    const replicated = sent(effects, 'job.progress').filter(e => e.to === 'A').flatMap(e => (e.message as Extract<RpcMessage, { t: 'job.progress' }>).done.map(d => d[0]))
    expect(replicated.sort((a, b) => a - b)).toEqual(chunks.map((_, i) => i))
    const confirm = effects.filter(e => e.type === 'send' && e.message.t === 'job.confirm')
    expect(confirm.length).toBeGreaterThan(0)
    const reduced = [...core.confirmReply('A', { t: 'job.confirmReply', jobId: JOB, term: 1, ok: true, promisedTerm: 1 }, 10_001, 10_001)]
    expect(of(reduced, 'reduce')[0]?.results).toEqual(chunks.map((_, i) => `r${i}`))
  })
})

describe('coordinated jobs: poison pills', () => {
  it('a task whose executor died on 2 workers fails the job with the poison reason, committed like any failure', () => {
    const { core, effects } = setup({ tasks: 2 })
    const first = of(effects, 'assign').find(a => a.message.taskIndex === 0)!
    const crash = (a: typeof first, now: number): CoordinatorEffect[] =>
      core.taskResult(a.to, { jobId: JOB, taskIndex: 0, attemptId: a.message.attemptId, outcome: 'failed', error: 'exited: task ended the executor process (signal SIGKILL)', kind: 'exited' }, now, now)
    const again = of(crash(first, 20), 'assign').find(a => a.message.taskIndex === 0)!
    expect(again.to).not.toBe(first.to)
    const out = crash(again, 30)
    expect(of(out, 'assign')).toEqual([])
    const commit = sent(out, 'job.commit')[0]!.message as Extract<RpcMessage, { t: 'job.commit' }>
    expect(commit.record).toMatchObject({ state: 'failed', error: `Task 0 crashed its executor or node on 2 nodes (${first.to}, ${again.to}): not placed again (last: task ended the executor process (signal SIGKILL))` })
  })

  it('a worker that stops after announcing its leave costs its tasks nothing; one whose stream breaks otherwise counts', () => {
    const { core, effects } = setup({ tasks: 1 })
    const first = of(effects, 'assign').find(a => a.message.taskIndex === 0)!
    const moved = of(core.peerUnreachable(first.to, 20, 20, true), 'assign').find(a => a.message.taskIndex === 0)!
    expect(moved.to).not.toBe(first.to)
    expect(core.peerUnreachable(moved.to, 30, 30).some(e => e.type === 'committing')).toBe(false)
    // Both rest for the scheduler's unreachable cooldown (5 s); the first is back sooner.
    // Nodes whose tasks run unboxed (--sandbox none): a death may be the task's doing.
    const unboxed = WORKERS.map(w => ({ ...w, caps: { tools: [], labels: {}, memTotal: 0, cpuCores: 0, unboxed: true } }))
    const back = of(core.tick(unboxed, 5025, 5025), 'assign').find(a => a.message.taskIndex === 0)!
    expect(back.to).toBe(first.to)
    expect(sent(core.peerUnreachable(back.to, 5040, 5040), 'job.commit')).toEqual([])
    // Broken streams count once the membership declares their nodes dead soon after.
    const out = core.tick(unboxed.map(w => ({ ...w, status: 'dead' as const })), 9600, 9600)
    expect((sent(out, 'job.commit')[0]?.message as Extract<RpcMessage, { t: 'job.commit' }> | undefined)?.record.error).toMatch(/^Task 0 crashed its executor or node on 2 nodes \(W., W.\)/)
  })
})
