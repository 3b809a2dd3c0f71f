import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Scheduler, type SchedulerConfig, type SchedulerEffect, type SchedulerEvent, type WorkerView } from '../../src/jobs/scheduler.js'
import { seededRandom } from '../../src/util/prng.js'

// ---- helpers ----

function worker (peerId: string, o: Partial<WorkerView> = {}): WorkerView {
  return { peerId, slotsTotal: 1, slotsFree: 1, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive', ...o }
}

/** The deeper window of short jobs is off unless a test turns it on: most tests finish tasks in a few ms. */
function make (config: Partial<SchedulerConfig> = {}, seed = 1): Scheduler {
  return new Scheduler({ shortTaskBelowMs: 0, ...config }, seededRandom(seed))
}

type Assign = Extract<SchedulerEffect, { type: 'assign' }>
const assigns = (effects: SchedulerEffect[]): Assign[] => effects.filter((e): e is Assign => e.type === 'assign')
const assign = (peerId: string, jobId: string, taskIndex: number, n: number, backup = false): Assign =>
  ({ type: 'assign', peerId, jobId, taskIndex, attemptId: `${jobId}:${taskIndex}:${n}`, backup })
const abort = (peerId: string, jobId: string, taskIndex: number, n: number): SchedulerEffect =>
  ({ type: 'abort', peerId, jobId, taskIndex, attemptId: `${jobId}:${taskIndex}:${n}` })
const ok = (a: { jobId: string, taskIndex: number, attemptId: string }, result: unknown = `r${a.taskIndex}`): SchedulerEvent =>
  ({ type: 'taskOk', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, result })
const failed = (a: { jobId: string, taskIndex: number, attemptId: string }, error = 'boom', retryable?: boolean): SchedulerEvent =>
  ({ type: 'taskFailed', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, error, ...(retryable === undefined ? {} : { retryable }) })
const countBy = <T>(items: T[], key: (t: T) => string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1
  return out
}

/**
 * A deterministic little mesh driven by the test: each worker runs `slotsTotal` attempts at a
 * time, in the order assigned, each taking `durationMs(peerId, taskIndex)`. Returns every
 * effect in order and the time the loop stopped.
 */
function runMesh (s: Scheduler, views: WorkerView[], initial: SchedulerEvent[], durationMs: (peerId: string, taskIndex: number) => number, opts: { tickMs?: number, untilMs?: number } = {}) {
  interface Running { a: Assign, endsAt: number }
  const state = new Map(views.map(v => [v.peerId, { slots: v.slotsTotal, running: [] as Running[], waiting: [] as Assign[] }]))
  const log: SchedulerEffect[] = []
  let now = 0
  const start = (peerId: string): void => {
    const w = state.get(peerId)!
    while (w.running.length < w.slots && w.waiting.length > 0) {
      const a = w.waiting.shift()!
      w.running.push({ a, endsAt: now + durationMs(peerId, a.taskIndex) })
    }
  }
  const apply = (effects: SchedulerEffect[]): void => {
    for (const e of effects) {
      log.push(e)
      if (e.type === 'assign') {
        state.get(e.peerId)!.waiting.push(e)
        start(e.peerId)
      } else if (e.type === 'abort') {
        const w = state.get(e.peerId)!
        w.waiting = w.waiting.filter(a => a.attemptId !== e.attemptId)
        w.running = w.running.filter(r => r.a.attemptId !== e.attemptId)
        start(e.peerId)
      }
    }
  }
  apply(s.step({ type: 'workers', workers: views }, now))
  for (const ev of initial) apply(s.step(ev, now))
  const tickMs = opts.tickMs ?? 100
  let nextTick = tickMs
  for (let guard = 0; guard < 5_000_000; guard++) {
    let next: { peerId: string, r: Running } | undefined
    for (const [peerId, w] of state) for (const r of w.running) if (next === undefined || r.endsAt < next.r.endsAt) next = { peerId, r }
    if (next === undefined && s.stats().inFlight === 0) break
    if (opts.untilMs !== undefined && Math.min(next?.r.endsAt ?? Infinity, nextTick) > opts.untilMs) break
    if (next === undefined || nextTick <= next.r.endsAt) {
      now = nextTick
      nextTick += tickMs
      apply(s.step({ type: 'tick' }, now))
      continue
    }
    now = next.r.endsAt
    const w = state.get(next.peerId)!
    w.running = w.running.filter(r => r !== next!.r)
    start(next.peerId)
    apply(s.step(ok(next.r.a, next.r.a.taskIndex * 10), now))
  }
  return { log, now }
}

// ---- placement and windows ----

describe('placement', () => {
  it('sends a task to the worker with the most free capacity', () => {
    const s = make()
    s.step({ type: 'workers', workers: [
      worker('busy', { slotsTotal: 2, slotsFree: 0, cpuLoad: 0.9 }),
      worker('free', { slotsTotal: 2, slotsFree: 2, cpuLoad: 0 }),
      worker('half', { slotsTotal: 2, slotsFree: 1, cpuLoad: 0.5 }),
    ] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)).toEqual([assign('free', 'j', 0, 1)])
  })

  it('weighs CPU load and the room left in this coordinator\'s window', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('hot', { slotsTotal: 2, slotsFree: 2, cpuLoad: 0.9 }), worker('cool', { slotsTotal: 2, slotsFree: 2, cpuLoad: 0.1 })] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'a', taskCount: 1 }, 0)).toEqual([assign('cool', 'a', 0, 1)])
    // 'cool' now has 3 of 4 window slots left: (3 + 2) * 0.95 = 4.75 > 'hot' (4 + 2) * 0.55 = 3.3.
    expect(s.step({ type: 'addJob', jobId: 'b', taskCount: 1 }, 0)).toEqual([assign('cool', 'b', 0, 1)])
    s.step({ type: 'workers', workers: [worker('x', { slotsTotal: 4, slotsFree: 4 }), worker('y', { slotsTotal: 4, slotsFree: 4 })] }, 0)
    const first = s.step({ type: 'addJob', jobId: 'c', taskCount: 2 }, 0)
    // Equal workers: the second task goes to the one with more room left.
    expect(new Set(first.map(e => (e as Assign).peerId))).toEqual(new Set(['x', 'y']))
  })

  it('breaks ties with the injected randomness, reproducibly', () => {
    const firstPeer = (seed: number): string => {
      const s = make({}, seed)
      s.step({ type: 'workers', workers: ['a', 'b', 'c', 'd'].map(p => worker(p, { slotsTotal: 2, slotsFree: 2 })) }, 0)
      return assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))[0]!.peerId
    }
    const picks = Array.from({ length: 40 }, (_, i) => firstPeer(i))
    expect(picks).toEqual(Array.from({ length: 40 }, (_, i) => firstPeer(i)))
    expect(new Set(picks).size).toBe(4)
  })

  it('keeps at most slotsTotal * windowPerSlot attempts on a worker, across all jobs', () => {
    const s = make({ windowPerSlot: 2 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsTotal: 1, slotsFree: 1 })] }, 0)
    const first = s.step({ type: 'addJob', jobId: 'big', taskCount: 100 }, 0)
    expect(first).toHaveLength(6)
    expect(countBy(assigns(first), a => a.peerId)).toEqual({ A: 4, B: 2 })
    expect(assigns(first).map(a => a.taskIndex)).toEqual([0, 1, 2, 3, 4, 5])
    expect(s.step({ type: 'addJob', jobId: 'other', taskCount: 5 }, 0)).toEqual([])
    // A slot frees on B: exactly one new attempt, on B (fair share: 'other' has nothing in flight).
    const onB = assigns(first).find(a => a.peerId === 'B')!
    expect(s.step(ok(onB), 10)).toEqual([assign('B', 'other', 0, 1)])
    expect(s.workers().map(w => [w.peerId, w.window, w.inFlight])).toEqual([['A', 4, 4], ['B', 2, 2]])
  })

  it('gives nothing new to suspect, draining or unreachable workers but lets them finish', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B')] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 5 }, 0))
    expect(first).toHaveLength(2)
    const onA = first.find(a => a.peerId === 'A')!
    const onB = first.find(a => a.peerId === 'B')!
    expect(s.step({ type: 'workers', workers: [worker('A', { status: 'suspect' }), worker('B', { accepting: false })] }, 1)).toEqual([])
    expect(s.step(ok(onA), 2)).toEqual([])
    expect(s.step(ok(onB), 3)).toEqual([])
    expect(s.job('j')).toMatchObject({ done: 2, inFlight: 0, queued: 3 })
    // Back to normal: both get work again.
    expect(assigns(s.step({ type: 'workers', workers: [worker('A'), worker('B')] }, 4)).map(a => a.taskIndex)).toEqual([2, 3])
  })

  it('gives nothing to a worker with no slots', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('zero', { slotsTotal: 0, slotsFree: 0 })] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0)).toEqual([])
    expect(s.job('j')).toMatchObject({ state: 'running', queued: 3, inFlight: 0 })
  })
})

describe('dynamic balancing', () => {
  it('a fast worker completes more tasks than a slow one', () => {
    const s = make({ windowPerSlot: 2 }, 7)
    const { log } = runMesh(s, [worker('fast'), worker('slow')], [{ type: 'addJob', jobId: 'j', taskCount: 300 }],
      peerId => peerId === 'fast' ? 10 : 50)
    const done = log.find(e => e.type === 'jobDone') as Extract<SchedulerEffect, { type: 'jobDone' }>
    expect(done.results).toEqual(Array.from({ length: 300 }, (_, i) => i * 10))
    const fast = done.tasksByPeer['fast']!
    const slow = done.tasksByPeer['slow']!
    expect(fast + slow).toBe(300)
    // 5x faster: about 250 vs 50.
    expect(fast).toBeGreaterThan(4 * slow)
    expect(slow).toBeGreaterThan(30)
    expect(log.filter(e => e.type === 'abort')).toEqual([])
  })

  it('spreads work over capacity: a 4-slot worker does about 4x a 1-slot one', () => {
    const s = make({}, 3)
    const { log } = runMesh(s, [worker('big', { slotsTotal: 4, slotsFree: 4 }), worker('small', { slotsTotal: 1, slotsFree: 1 })],
      [{ type: 'addJob', jobId: 'j', taskCount: 500 }], () => 20)
    const done = log.find(e => e.type === 'jobDone') as Extract<SchedulerEffect, { type: 'jobDone' }>
    expect(done.tasksByPeer['big']).toBe(400)
    expect(done.tasksByPeer['small']).toBe(100)
  })
})

// ---- failures ----

describe('retries and failures', () => {
  it('retries a failed task on another peer, ahead of the queue', () => {
    const s = make({ windowPerSlot: 1 })
    // 'X' looks best by capacity, but the retry must avoid it.
    s.step({ type: 'workers', workers: [worker('X', { slotsTotal: 1, slotsFree: 1 }), worker('Y', { slotsFree: 0 }), worker('Z', { slotsFree: 0 })] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 2 }, 0))
    expect(first[0]).toEqual(assign('X', 'j', 0, 1))
    const idle = ['Y', 'Z'].find(p => p !== first[1]!.peerId)!
    expect(s.step(failed(first[0]!), 5)).toEqual([assign(idle, 'j', 0, 2)])
    expect(s.job('j')).toMatchObject({ failures: 1, inFlight: 2, queued: 0 })
  })

  it('puts a retry at the front of its job\'s queue, and uses the failing peer when it is the only one', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0)).toEqual([assign('A', 'j', 0, 1)])
    expect(s.step(failed(assign('A', 'j', 0, 1)), 1)).toEqual([assign('A', 'j', 0, 2)])
    expect(s.step(ok(assign('A', 'j', 0, 2)), 2)).toEqual([assign('A', 'j', 1, 1)])
  })

  it('fails the job after maxAttempts failures of one task, naming the task and the last error, and aborts the rest', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 3 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B'), worker('C')] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0))
    expect(first.map(a => a.taskIndex)).toEqual([0, 1, 2])
    const t1 = first[1]!
    const retry1 = s.step(failed(t1, 'disk full 1'), 1)
    expect(retry1).toEqual([assign(t1.peerId, 'j', 1, 2)]) // the only worker with room
    const retry2 = s.step(failed(assigns(retry1)[0]!, 'disk full 2'), 2)
    expect(retry2).toEqual([assign(t1.peerId, 'j', 1, 3)])
    expect(s.step(failed(assigns(retry2)[0]!, 'disk full 3'), 3)).toEqual([
      abort(first[0]!.peerId, 'j', 0, 1),
      abort(first[2]!.peerId, 'j', 2, 1),
      { type: 'jobFailed', jobId: 'j', error: 'Task 1 failed after 3 attempts: disk full 3', taskIndex: 1, failure: { taskIndex: 1, attempts: 3, kind: 'failed', message: 'disk full 3', peerId: t1.peerId } },
    ])
    expect(s.job('j')).toMatchObject({ state: 'failed', error: 'Task 1 failed after 3 attempts: disk full 3', inFlight: 0 })
    // Late reports about the dead job are absorbed.
    expect(s.step(ok(first[0]!), 4)).toEqual([])
    expect(s.step(failed(first[2]!), 4)).toEqual([])
    expect(s.stats()).toMatchObject({ duplicatesDiscarded: 1, staleFailures: 1, inFlight: 0, activeJobs: 0 })
  })

  it('fails at once on a non-retryable error', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    const [a] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    expect(s.step(failed(a!, 'SyntaxError in map', false), 1)).toEqual([
      { type: 'jobFailed', jobId: 'j', error: 'Task 0 failed after 1 attempt: SyntaxError in map', taskIndex: 0, failure: { taskIndex: 0, attempts: 1, kind: 'failed', message: 'SyntaxError in map', peerId: 'A', notRetried: 'not retryable' } },
    ])
  })

  it('aborts a timed-out attempt, counts it as a failure and retries elsewhere', () => {
    const s = make({ taskTimeoutMs: 1000, maxAttempts: 2, windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [worker('A', { slotsFree: 1 }), worker('B', { slotsFree: 0 })] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)).toEqual([assign('A', 'j', 0, 1)])
    expect(s.step({ type: 'tick' }, 999)).toEqual([])
    expect(s.step({ type: 'tick' }, 1000)).toEqual([abort('A', 'j', 0, 1), assign('B', 'j', 0, 2)])
    expect(s.job('j')).toMatchObject({ failures: 1, inFlight: 1 })
    // The late result of the aborted attempt does not count.
    expect(s.step(ok(assign('A', 'j', 0, 1)), 1500)).toEqual([])
    expect(s.job('j')).toMatchObject({ done: 0, duplicatesDiscarded: 1 })
    expect(s.step({ type: 'tick' }, 2000)).toEqual([
      abort('B', 'j', 0, 2),
      { type: 'jobFailed', jobId: 'j', error: 'Task 0 failed after 2 attempts: timed out after 1000ms', taskIndex: 0, failure: { taskIndex: 0, attempts: 2, kind: 'timeout', message: 'timed out after 1000ms', peerId: 'B' } },
    ])
    expect(s.stats().timeouts).toBe(2)
  })
})

// ---- lost workers ----

describe('lost workers', () => {
  it('re-queues a dead worker\'s attempts at once without counting failures', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 1 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B', { slotsFree: 0 })] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0)).toEqual([assign('A', 'j', 0, 1), assign('B', 'j', 1, 1)])
    expect(s.step({ type: 'workers', workers: [worker('A', { status: 'dead' }), worker('B', { slotsFree: 0 })] }, 5)).toEqual([])
    expect(s.job('j')).toMatchObject({ failures: 0, inFlight: 1, queued: 2, inFlightByPeer: { B: 1 } })
    // B frees up: the lost task 0 goes first (front of the queue), as a new attempt.
    expect(s.step(ok(assign('B', 'j', 1, 1)), 6)).toEqual([assign('B', 'j', 0, 2)])
    // A result from the lost attempt is not accepted.
    expect(s.step(ok(assign('A', 'j', 0, 1)), 7)).toEqual([])
    expect(s.stats()).toMatchObject({ requeuedLost: 1, duplicatesDiscarded: 1 })
  })

  it('treats a worker missing from the view, or left, like a dead one', () => {
    for (const next of [[worker('B')], [worker('A', { status: 'left' }), worker('B')]]) {
      const s = make({ windowPerSlot: 1 })
      s.step({ type: 'workers', workers: [worker('A')] }, 0)
      expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)).toEqual([assign('A', 'j', 0, 1)])
      expect(s.step({ type: 'workers', workers: next }, 1)).toEqual([assign('B', 'j', 0, 2)])
    }
  })

  it('re-queues on a broken stream and rests the worker for unreachableCooldownMs', () => {
    const s = make({ windowPerSlot: 1, unreachableCooldownMs: 500 })
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)).toEqual([assign('A', 'j', 0, 1)])
    expect(s.step({ type: 'peerUnreachable', peerId: 'A' }, 100)).toEqual([])
    expect(s.job('j')).toMatchObject({ failures: 0, queued: 1 })
    expect(s.step({ type: 'tick' }, 599)).toEqual([])
    expect(s.step({ type: 'tick' }, 600)).toEqual([assign('A', 'j', 0, 2)])
    expect(s.step({ type: 'peerUnreachable', peerId: 'nobody' }, 601)).toEqual([])
    expect(s.stats().droppedEvents).toBe(1)
  })

  it('counts losses beyond lostPerTaskMax as failures, so a worker-killing task ends', () => {
    const s = make({ windowPerSlot: 1, unreachableCooldownMs: 0, lostPerTaskMax: 2, maxAttempts: 1 })
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    let effects = s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)
    for (let n = 1; n <= 2; n++) {
      expect(effects).toEqual([assign('A', 'j', 0, n)])
      effects = s.step({ type: 'peerUnreachable', peerId: 'A' }, n)
    }
    expect(effects).toEqual([assign('A', 'j', 0, 3)])
    expect(s.step({ type: 'peerUnreachable', peerId: 'A' }, 3)).toEqual([
      { type: 'jobFailed', jobId: 'j', error: 'Task 0 failed after 1 attempt: lost 3 times; last: stream to worker A broke', taskIndex: 0, failure: { taskIndex: 0, attempts: 1, kind: 'lost', message: 'lost 3 times; last: stream to worker A broke', peerId: 'A' } },
    ])
  })
})

// ---- poison pills ----

/** A worker whose tasks run without a sandbox (--sandbox none): its death may be the task's doing. */
function unboxed (peerId: string, o: Partial<WorkerView> = {}): WorkerView {
  return worker(peerId, { caps: { tools: [], labels: {}, memTotal: 0, cpuCores: 0, unboxed: true }, ...o })
}

describe('poison pills (crashNodesMax)', () => {
  const crashed = (a: { jobId: string, taskIndex: number, attemptId: string }, kind = 'exited', error = `${kind}: task ended the executor process (signal SIGKILL)\nstderr line`): SchedulerEvent =>
    ({ type: 'taskFailed', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, error, kind })
  const ids = { A: '12D3KooWAAAAAAAAnodeA001', B: '12D3KooWBBBBBBBBnodeB002', C: '12D3KooWCCCCCCCCnodeC003' }

  it('fails the job once a task killed its executor on 2 nodes, naming them, instead of placing it again', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 5 })
    s.step({ type: 'workers', workers: [worker(ids.A), worker(ids.B), worker(ids.C), worker('12D3KooWDDDDDDDDnodeD004')] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0))
    const poison = first.find(a => a.taskIndex === 0)!
    const [retry] = assigns(s.step(crashed(poison), 1))
    expect(retry).toMatchObject({ taskIndex: 0 })
    expect(retry!.peerId).not.toBe(poison.peerId) // avoided, as after any failure
    const out = s.step(crashed(retry!, 'oom', 'oom: task ran out of memory (executor heap limit 512 MB)'), 2)
    const error = `Task 0 crashed its executor or node on 2 nodes (…${poison.peerId.slice(-8)}, …${retry!.peerId.slice(-8)}): not placed again (last: task ran out of memory (executor heap limit 512 MB))`
    expect(out).toEqual([
      ...first.filter(a => a.taskIndex !== 0).map(a => abort(a.peerId, 'j', a.taskIndex, 1)),
      { type: 'jobFailed', jobId: 'j', error, taskIndex: 0 },
    ])
    expect(s.job('j')).toMatchObject({ state: 'failed', error, failures: 2, inFlight: 0 })
    // Late reports of the aborted attempts are absorbed.
    expect(s.step(ok(first[1]!), 3)).toEqual([])
  })

  it('counts a malformed-protocol executor as a crash, and the last reason without its kind or stderr lines', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 5 })
    s.step({ type: 'workers', workers: [worker(ids.A), worker(ids.B)] }, 0)
    const [a, b] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 2 }, 0))
    s.step(ok(b!), 1)
    const [again] = assigns(s.step(crashed(a!, 'protocol', 'protocol: the executor sent a malformed message'), 2))
    expect(again!.peerId).toBe(ids.B)
    expect(s.step(crashed(again!), 3).at(-1)).toMatchObject({ type: 'jobFailed', error: expect.stringMatching(/^Task 0 crashed its executor or node on 2 nodes \(.*\): not placed again \(last: task ended the executor process \(signal SIGKILL\)\)$/) })
  })

  it('counts distinct nodes: crashes on one node keep the ordinary retry rule until a second node crashes', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 5 })
    s.step({ type: 'workers', workers: [worker(ids.A)] }, 0)
    let [a] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    ;[a] = assigns(s.step(crashed(a!), 1))
    ;[a] = assigns(s.step(crashed(a!), 2))
    expect(a).toMatchObject({ peerId: ids.A, attemptId: 'j:0:3' })
    expect(assigns(s.step(crashed(a!), 3))).toEqual([assign(ids.A, 'j', 0, 4)])
    expect(s.job('j')).toMatchObject({ state: 'running', failures: 3 })
    expect(s.step({ type: 'workers', workers: [worker(ids.A, { slotsFree: 0 }), worker(ids.B)] }, 4)).toEqual([])
    expect(s.step(crashed(assign(ids.A, 'j', 0, 4)), 5)).toEqual([assign(ids.B, 'j', 0, 5)])
    expect(s.step(crashed(assign(ids.B, 'j', 0, 5)), 6).at(-1)).toMatchObject({ type: 'jobFailed', error: expect.stringMatching(/^Task 0 crashed its executor or node on 2 nodes \(…nodeA001, …nodeB002\)/) })
  })

  it('keeps the retry rule for thrown errors and timeouts, which count toward no node', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 5, taskTimeoutMs: 1000 })
    s.step({ type: 'workers', workers: [worker(ids.A), worker(ids.B), worker(ids.C)] }, 0)
    const [a1] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    const [a2] = assigns(s.step(crashed(a1!, 'threw', 'threw: boom'), 1))
    const [a3] = assigns(s.step({ type: 'tick' }, 1001))
    expect(new Set([a1, a2, a3].map(a => a!.peerId)).size).toBe(3)
    expect(s.job('j')).toMatchObject({ state: 'running', failures: 2 })
    // The first executor death is on the third node; the second, on the node that threw, ends it.
    const [a4] = assigns(s.step(crashed(a3!), 1002))
    expect(a4).toBeDefined()
    const out = s.step(crashed(a4!), 1003)
    expect(out.at(-1)).toMatchObject({ type: 'jobFailed', error: expect.stringContaining(`on 2 nodes (…${a3!.peerId.slice(-8)}, …${a4!.peerId.slice(-8)})`) })
  })

  it('counts a node that died or became unreachable while running the task', () => {
    const s = make({ windowPerSlot: 1, unreachableCooldownMs: 0 })
    const all = [unboxed(ids.A), unboxed(ids.B, { slotsFree: 0 }), unboxed(ids.C, { slotsFree: 0 })]
    s.step({ type: 'workers', workers: all }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0))
    const onA = first.find(a => a.peerId === ids.A)!
    // A dies: its task goes to a live worker, once that has room.
    s.step({ type: 'workers', workers: [unboxed(ids.A, { status: 'dead' }), all[1]!, all[2]!] }, 1)
    const onB = first.find(a => a.peerId === ids.B)!
    const [again] = assigns(s.step(ok(onB), 2))
    expect(again).toMatchObject({ taskIndex: onA.taskIndex, peerId: ids.B })
    // Then the stream to B breaks while it runs it: not yet a death (a partition breaks streams too)…
    expect(s.step({ type: 'peerUnreachable', peerId: ids.B }, 3).some(e => e.type === 'jobFailed')).toBe(false)
    // …until the membership declares B dead soon after: 2 nodes.
    const out = s.step({ type: 'workers', workers: [unboxed(ids.B, { status: 'dead' }), all[2]!] }, 4500)
    expect(out.at(-1)).toEqual({ type: 'jobFailed', jobId: 'j', taskIndex: onA.taskIndex, error: expect.stringContaining(`Task ${onA.taskIndex} crashed its executor or node on 2 nodes (…nodeA001, …nodeB002): not placed again (last: worker ${ids.B} is dead`) })
    // Lost attempts are not failed ones.
    expect(s.job('j')).toMatchObject({ state: 'failed', failures: 0 })
  })

  it('does not count a broken stream whose node stays alive, or is declared dead only long after', () => {
    const s = make({ windowPerSlot: 1, brokenThenDeadWithinMs: 10_000, maxAttempts: 5 })
    const view = [unboxed(ids.A), unboxed(ids.B), unboxed(ids.C)]
    s.step({ type: 'workers', workers: view }, 0)
    const [a1] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    // A partition: the stream breaks, the node stays alive in the view.
    const [a2] = assigns(s.step({ type: 'peerUnreachable', peerId: a1!.peerId }, 1))
    s.step({ type: 'workers', workers: view }, 2000)
    const [a3] = assigns(s.step({ type: 'peerUnreachable', peerId: a2!.peerId }, 2001))
    // The first node is declared dead 20 s after its break: too late to blame the task.
    const later = view.map(w => w.peerId === a1!.peerId ? { ...w, status: 'dead' as const } : w)
    expect(s.step({ type: 'workers', workers: later }, 20_001).some(e => e.type === 'jobFailed')).toBe(false)
    expect(s.step(ok(a3!), 20_002).at(-1)).toMatchObject({ type: 'jobDone', jobId: 'j' })
  })

  it('does not count the death of a node whose tasks run boxed: a task cannot kill it', () => {
    const s = make({ windowPerSlot: 1, maxAttempts: 5 })
    const view = [worker(ids.A), worker(ids.B), worker(ids.C)]
    s.step({ type: 'workers', workers: view }, 0)
    const [a1] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    const [a2] = assigns(s.step({ type: 'workers', workers: view.map(w => w.peerId === a1!.peerId ? { ...w, status: 'dead' as const } : w) }, 1))
    const [a3] = assigns(s.step({ type: 'peerUnreachable', peerId: a2!.peerId }, 2))
    expect(a3).toMatchObject({ taskIndex: 0 })
    expect(s.step({ type: 'workers', workers: view.filter(w => w.peerId !== a1!.peerId).map(w => w.peerId === a2!.peerId ? { ...w, status: 'dead' as const } : w) }, 3000)).toEqual([])
    expect(s.step(ok(a3!), 3001).at(-1)).toMatchObject({ type: 'jobDone', jobId: 'j' })
  })

  it('mixes executor deaths and node deaths of one task', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [unboxed(ids.A), unboxed(ids.B)] }, 0)
    const [a, b] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 2 }, 0))
    expect(a).toMatchObject({ taskIndex: 0, peerId: ids.A })
    s.step(ok(b!), 1)
    expect(s.step(crashed(a!), 2)).toEqual([assign(ids.B, 'j', 0, 2)])
    const out = s.step({ type: 'workers', workers: [unboxed(ids.A), unboxed(ids.B, { status: 'dead' })] }, 3)
    expect(out).toEqual([{ type: 'jobFailed', jobId: 'j', taskIndex: 0, error: `Task 0 crashed its executor or node on 2 nodes (…nodeA001, …nodeB002): not placed again (last: worker ${ids.B} is dead)` }])
  })

  it('does not count nodes that left, vanished from the view or closed their stream after announcing their leave', () => {
    const s = make({ windowPerSlot: 1, unreachableCooldownMs: 0, maxAttempts: 5 })
    let view = ['P', 'Q', 'R', 'S'].map(p => worker(p))
    s.step({ type: 'workers', workers: view }, 0)
    const [a1] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    view = view.map(w => w.peerId === a1!.peerId ? { ...w, status: 'left' as const } : w)
    const [a2] = assigns(s.step({ type: 'workers', workers: view }, 1))
    view = view.filter(w => w.peerId !== a2!.peerId)
    const [a3] = assigns(s.step({ type: 'workers', workers: view }, 2))
    const [a4] = assigns(s.step({ type: 'peerUnreachable', peerId: a3!.peerId, left: true }, 3))
    expect(new Set([a1, a2, a3].map(a => a!.peerId)).size).toBe(3)
    // Three nodes lost the task without dying: the first executor death is the first node counted.
    const [a5] = assigns(s.step(crashed(a4!), 4))
    expect(s.job('j')).toMatchObject({ state: 'running', failures: 1 })
    expect(s.step(crashed(a5!), 5).at(-1)).toMatchObject({ type: 'jobFailed', error: expect.stringContaining(`on 2 nodes (${a4!.peerId}, ${a5!.peerId})`) })
  })

  it('counts a backup copy and its original dying on two nodes', () => {
    const s = make({ windowPerSlot: 1, backupMinMs: 1000 })
    s.step({ type: 'workers', workers: [unboxed(ids.A, { slotsTotal: 2, slotsFree: 2 }), unboxed(ids.B)] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0))
    for (const a of first.filter(a => a.taskIndex !== 0)) s.step(ok(a), 100)
    const [backup] = assigns(s.step({ type: 'tick' }, 1500))
    expect(backup).toMatchObject({ taskIndex: 0, backup: true })
    expect(s.step(crashed(backup!), 1600)).toEqual([]) // the original still runs
    const original = first.find(a => a.taskIndex === 0)!.peerId
    s.step({ type: 'peerUnreachable', peerId: original }, 1700)
    const view = [unboxed(ids.A, { slotsTotal: 2, slotsFree: 2 }), unboxed(ids.B)].map(w => w.peerId === original ? { ...w, status: 'dead' as const } : w)
    expect(s.step({ type: 'workers', workers: view }, 6000).at(-1)).toMatchObject({ type: 'jobFailed', taskIndex: 0 })
  })

  it('is off with crashNodesMax 0, and configured within bounds', () => {
    const s = make({ windowPerSlot: 1, crashNodesMax: 0, maxAttempts: 5 })
    s.step({ type: 'workers', workers: [worker(ids.A), worker(ids.B), worker(ids.C)] }, 0)
    let [a] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    for (let n = 2; n <= 4; n++) {
      ;[a] = assigns(s.step(crashed(a!), n))
      expect(a).toMatchObject({ attemptId: `j:0:${n}` })
    }
    expect(() => make({ crashNodesMax: -1 })).toThrow(/crashNodesMax/)
    expect(() => make({ crashNodesMax: 1.5 })).toThrow(/crashNodesMax/)
  })
})

// ---- speculative backups ----

describe('speculative backups', () => {
  function straggler () {
    const s = make({ windowPerSlot: 1, backupMinMs: 1000, backupFactor: 3 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsTotal: 2, slotsFree: 1 })] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 3 }, 0))
    expect(first.map(a => [a.peerId, a.taskIndex])).toEqual([['A', 0], ['A', 1], ['B', 2]])
    s.step(ok(first[1]!), 100)
    s.step(ok(first[2]!), 200)
    return { s, slow: first[0]! }
  }

  it('backs up an attempt running longer than max(backupMinMs, factor x median) on another peer', () => {
    const { s, slow } = straggler()
    // Median of 100 and 200 is 150; 3 x 150 = 450 < backupMinMs, so the bar is 1000 ms.
    expect(s.step({ type: 'tick' }, 1000)).toEqual([])
    expect(s.step({ type: 'tick' }, 1001)).toEqual([assign('B', 'j', 0, 2, true)])
    expect(s.job('j')).toMatchObject({ inFlight: 2, inFlightByPeer: { A: 1, B: 1 } })
    // One backup per task, ever.
    expect(s.step({ type: 'tick' }, 5000)).toEqual([])
    expect(s.stats().backupsLaunched).toBe(1)
    // The backup wins: the original is aborted, the job is done; the original's result is a duplicate.
    expect(s.step(ok(assign('B', 'j', 0, 2, true), 'from backup'), 5100)).toEqual([
      abort('A', 'j', 0, 1),
      { type: 'jobDone', jobId: 'j', results: ['from backup', 'r1', 'r2'], tasksByPeer: { A: 1, B: 2 }, duplicatesDiscarded: 0 },
    ])
    expect(s.step(ok(slow, 'late'), 5200)).toEqual([])
    expect(s.job('j')).toMatchObject({ state: 'done', duplicatesDiscarded: 1 })
  })

  it('lets the original win too, aborting the backup', () => {
    const { s, slow } = straggler()
    expect(s.step({ type: 'tick' }, 1500)).toEqual([assign('B', 'j', 0, 2, true)])
    expect(s.step(ok(slow, 'original'), 1600)).toEqual([
      abort('B', 'j', 0, 2),
      { type: 'jobDone', jobId: 'j', results: ['original', 'r1', 'r2'], tasksByPeer: { A: 2, B: 1 }, duplicatesDiscarded: 0 },
    ])
  })

  it('aborts the loser as soon as a copy wins, and does not re-queue a task whose copy still runs', () => {
    const s = make({ windowPerSlot: 1, backupMinMs: 1000 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsTotal: 2, slotsFree: 0 })] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 4 }, 0))
      .toEqual([assign('A', 'j', 0, 1), assign('A', 'j', 1, 1), assign('B', 'j', 2, 1), assign('B', 'j', 3, 1)])
    s.step(ok(assign('A', 'j', 1, 1)), 100)
    s.step(ok(assign('B', 'j', 3, 1)), 100)
    expect(s.step({ type: 'tick' }, 1001)).toEqual([assign('B', 'j', 0, 2, true), assign('A', 'j', 2, 2, true)])
    // Task 0's backup wins while task 2 is still running: only task 0's original is aborted.
    expect(s.step(ok(assign('B', 'j', 0, 2, true), 'r0'), 1100)).toEqual([abort('A', 'j', 0, 1)])
    expect(s.job('j')).toMatchObject({ done: 3, inFlight: 2, queued: 0 })
    // Task 2's original fails: its backup still runs, so nothing is re-queued.
    expect(s.step(failed(assign('B', 'j', 2, 1), 'oom'), 1200)).toEqual([])
    expect(s.job('j')).toMatchObject({ failures: 1, inFlight: 1, queued: 0 })
    expect(s.step(ok(assign('A', 'j', 2, 2, true)), 1300)).toEqual([
      { type: 'jobDone', jobId: 'j', results: ['r0', 'r1', 'r2', 'r3'], tasksByPeer: { A: 2, B: 2 }, duplicatesDiscarded: 0 },
    ])
  })

  it('uses factor x median when that exceeds backupMinMs', () => {
    const s = make({ windowPerSlot: 1, backupMinMs: 10, backupFactor: 3 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsFree: 0 })] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'k', taskCount: 3 }, 0))
    expect(first.map(a => a.peerId)).toEqual(['A', 'A', 'B'])
    s.step(ok(first[2]!), 100)
    s.step(ok(first[1]!), 100) // median 100 -> bar 300 ms
    expect(s.step({ type: 'tick' }, 300)).toEqual([])
    expect(s.step({ type: 'tick' }, 301)).toEqual([assign('B', 'k', 0, 2, true)])
  })

  it('never backs up on the peer running the original', () => {
    const s = make({ windowPerSlot: 1, backupMinMs: 10, backupFactor: 3 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 2 }, 0))
    s.step(ok(first[1]!), 100)
    expect(s.step({ type: 'tick' }, 400)).toEqual([]) // A has room, but A runs the original
    expect(s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B')] }, 400)).toEqual([])
    expect(s.step({ type: 'tick' }, 401)).toEqual([assign('B', 'j', 0, 2, true)])
  })

  it('launches no backup while the job still has queued tasks', () => {
    const s = make({ windowPerSlot: 1, backupMinMs: 10 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B')] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 10 }, 0))
    const next = assigns(s.step(ok(first[1]!), 20))
    expect(next).toHaveLength(1)
    expect(s.step({ type: 'tick' }, 10_000)).toEqual([])
  })
})

// ---- fair share ----

describe('jobs of long tasks', () => {
  it('queue none of their tasks behind their own once their pace is known, and do not hold up other jobs', () => {
    const s = make({ windowPerSlot: 2, pipelineBelowMs: 50 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B')] }, 0)
    // Pace unknown: the window is filled as for any job (2 per slot).
    const first = assigns(s.step({ type: 'addJob', jobId: 'long', taskCount: 10 }, 0))
    expect(countBy(first, a => a.peerId)).toEqual({ A: 2, B: 2 })
    const [a1, a2] = first.filter(a => a.peerId === 'A')
    // A task took 100 ms: A still runs one of the job's tasks on its one slot, B two: nothing new.
    expect(s.step(ok(a1!), 100)).toEqual([])
    // Another job is not held up by it: it gets the free window slot.
    expect(s.step({ type: 'addJob', jobId: 'short', taskCount: 1 }, 100)).toEqual([assign('A', 'short', 0, 1)])
    // A has none of the long job's tasks left: the next one goes there.
    expect(assigns(s.step(ok(a2!), 200))).toEqual([assign('A', 'long', 4, 1)])
    expect(s.job('long')).toMatchObject({ inFlight: 3, queued: 5 })
  })

  it('end sooner when one worker is slow: the last tasks wait for a free slot, not in the slow worker\'s queue', () => {
    const run = (pipelineBelowMs: number): number => {
      const s = make({ windowPerSlot: 2, pipelineBelowMs }, 5)
      const { log, now } = runMesh(s, [worker('fast'), worker('slow')], [{ type: 'addJob', jobId: 'j', taskCount: 12 }],
        peerId => peerId === 'fast' ? 200 : 1000)
      expect(log.filter(e => e.type === 'jobDone')).toHaveLength(1)
      return now
    }
    const queued = run(1e9) // every task may queue (the rule off)
    const ruled = run(50)
    expect(ruled).toBeLessThan(queued)
  })

  it('keep queueing short tasks: a 10 ms job fills the whole window', () => {
    const s = make({ windowPerSlot: 2, pipelineBelowMs: 50 })
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 10 }, 0))
    expect(first).toHaveLength(2)
    expect(assigns(s.step(ok(first[0]!), 10))).toHaveLength(1)
    expect(s.job('j')).toMatchObject({ inFlight: 2 })
  })
})

describe('jobs of short tasks', () => {
  const deep = { windowPerSlot: 2, shortWindowPerSlot: 4, shortTaskBelowMs: 5 }

  it('fill the deeper window once their pace is known', () => {
    const s = make(deep)
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
    // Pace unknown: the plain window (2 per slot).
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 100 }, 0))
    expect(first).toHaveLength(4)
    // A 1 ms task: the job may fill 4 per slot, so the freed slot and 4 more.
    const next = assigns(s.step(ok(first[0]!), 1))
    expect(next).toHaveLength(5)
    expect(s.job('j')).toMatchObject({ inFlight: 8 })
    expect(assigns(s.step(ok(first[1]!), 2))).toHaveLength(1)
    expect(s.job('j')).toMatchObject({ inFlight: 8 })
  })

  it('keep the plain window for tasks at or above shortTaskBelowMs, and with the rule off', () => {
    for (const [config, ms] of [[deep, 5], [{ ...deep, shortTaskBelowMs: 0 }, 1]] as const) {
      const s = make(config)
      s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
      const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 100 }, 0))
      expect(assigns(s.step(ok(first[0]!), ms))).toHaveLength(1)
      expect(s.job('j')).toMatchObject({ inFlight: 4 })
    }
  })

  it('do not starve another job: it gets the next slot once the short job is back within the plain window', () => {
    const s = make(deep)
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
    const running = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 100 }, 0))
    running.push(...assigns(s.step(ok(running.shift()!), 1)))
    expect(s.job('j')).toMatchObject({ inFlight: 8 })
    // Every plain window slot is taken: the new job waits, and the short job gets no more either.
    expect(s.step({ type: 'addJob', jobId: 'n', taskCount: 10 }, 1)).toEqual([])
    for (let k = 0; k < 4; k++) expect(s.step(ok(running.shift()!), 2 + k)).toEqual([])
    // 3 of j's in flight: the first free plain slot goes to n.
    expect(s.step(ok(running.shift()!), 6)).toEqual([assign('A', 'n', 0, 1)])
    expect(s.job('n')).toMatchObject({ inFlight: 1 })
  })

  it('are configured within bounds: shortTaskBelowMs from 0 (off) to pipelineBelowMs', () => {
    expect(() => make({ shortTaskBelowMs: -1 })).toThrow(/shortTaskBelowMs must be a finite number >= 0, got -1/)
    expect(() => make({ shortTaskBelowMs: 60, pipelineBelowMs: 50 })).toThrow(/shortTaskBelowMs \(60\) must not exceed pipelineBelowMs \(50\)/)
    expect(() => make({ shortWindowPerSlot: 0 })).toThrow(/shortWindowPerSlot must be a finite number > 0/)
    expect(() => make({ shortTaskBelowMs: 50, pipelineBelowMs: 50 })).not.toThrow()
  })

  it('of mixed lengths finish beside another job, with every window slot free again at the end', () => {
    const s = make(deep, 3)
    const { log } = runMesh(s, [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsTotal: 1, slotsFree: 1 })],
      [{ type: 'addJob', jobId: 'j', taskCount: 200 }, { type: 'addJob', jobId: 'k', taskCount: 50 }], (_peerId, i) => i % 7 === 0 ? 30 : 1)
    expect(log.filter(e => e.type === 'jobDone')).toHaveLength(2)
    expect(s.stats()).toMatchObject({ inFlight: 0, freeSlots: 6, freeShortSlots: 12 })
  })
})

describe('jobs of tiny tasks (kept on the coordinator\'s node)', () => {
  // L is the coordinator's own node; 2 slots: tasks that run under 2 x 0.025 ms are kept there.
  // One task per attempt here: groups have their own tests below.
  const cfg = { windowPerSlot: 2, shortWindowPerSlot: 4, shortTaskBelowMs: 5, localRunBelowMsPerSlot: 0.025, localGroupMax: 1 }
  const at = (config: Partial<SchedulerConfig> = {}): Scheduler => new Scheduler({ ...cfg, ...config }, seededRandom(1), 'L')
  const L = (o: Partial<WorkerView> = {}): WorkerView => worker('L', { slotsTotal: 2, slotsFree: 2, ...o })
  const R = (o: Partial<WorkerView> = {}): WorkerView => worker('R', { slotsTotal: 2, slotsFree: 2, ...o })
  const done = (a: Assign, runMs: number): SchedulerEvent => ({ type: 'taskOk', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, result: a.taskIndex, runMs })

  /**
   * Answers the oldest attempt in flight, one every 0.1 ms, each having run `runMs`, until the job
   * ends or `results` answers; returns the peers of the assigns made after the first answer and the
   * most attempts L held at once.
   */
  function drive (s: Scheduler, first: Assign[], runMs: number, results = Infinity): { later: string[], maxOnL: number, effects: SchedulerEffect[], inFlight: Assign[] } {
    const inFlight = [...first]
    const later: string[] = []
    const effects: SchedulerEffect[] = []
    let maxOnL = 0
    let now = 0
    for (let n = 0; n < results && inFlight.length > 0; n++) {
      now += 0.1
      const out = s.step(done(inFlight.shift()!, runMs), now)
      effects.push(...out)
      for (const a of assigns(out)) { later.push(a.peerId); inFlight.push(a) }
      maxOnL = Math.max(maxOnL, s.workers().find(w => w.peerId === 'L')?.inFlight ?? 0)
    }
    return { later, maxOnL, effects, inFlight }
  }

  it('run only on that node once their run time is known, within its deeper window', () => {
    const s = at()
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    // Run time unknown: spread as any job (the plain window, 4 each).
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 200 }, 0))
    expect(countBy(first, a => a.peerId)).toEqual({ L: 4, R: 4 })
    const { later, maxOnL, effects } = drive(s, first, 0.01)
    expect(new Set(later)).toEqual(new Set(['L']))
    expect(maxOnL).toBe(8)
    expect(effects.find(e => e.type === 'jobDone')).toMatchObject({ tasksByPeer: { L: 196, R: 4 } })
    expect(s.stats()).toMatchObject({ inFlight: 0, freeSlots: 8, freeShortSlots: 16 })
  })

  it('spread as before when they run longer than slots x localRunBelowMsPerSlot, or with the rule off, or without a local node', () => {
    const cases: Array<[Scheduler, number]> = [[at(), 0.05], [at({ localRunBelowMsPerSlot: 0 }), 0.001], [new Scheduler(cfg, seededRandom(1)), 0.001]]
    for (const [s, runMs] of cases) {
      s.step({ type: 'workers', workers: [L(), R()] }, 0)
      const { later } = drive(s, assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 200 }, 0)), runMs)
      expect(countBy(later, p => p).R).toBeGreaterThan(50)
    }
  })

  it('go to other nodes while the local one takes no work, and back once it does', () => {
    const s = at()
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 400 }, 0))
    const { later, inFlight } = drive(s, first, 0.01, 20)
    expect(new Set(later)).toEqual(new Set(['L']))
    // The owner came back: L keeps what it runs and gets nothing new; R gets the job.
    const spilled = assigns(s.step({ type: 'workers', workers: [L({ accepting: false }), R()] }, 5))
    expect(spilled.length).toBeGreaterThan(0)
    expect(new Set(spilled.map(a => a.peerId))).toEqual(new Set(['R']))
    // L takes work again: R's answers free room that the job leaves unused, L's go to L.
    s.step({ type: 'workers', workers: [L(), R()] }, 6)
    expect(assigns(s.step(done(spilled[0]!, 0.01), 7))).toEqual([])
    const back = assigns(s.step(done(inFlight.find(a => a.peerId === 'L')!, 0.01), 8))
    expect(back.map(a => a.peerId)).toEqual(['L'])
  })

  it('go to other nodes while the local slots are busy with another job\'s tasks', () => {
    const s = at({ pipelineBelowMs: 50 })
    s.step({ type: 'workers', workers: [L(), worker('R', { slotsTotal: 0, slotsFree: 0 })] }, 0)
    // A long job takes both of L's slots (its pace known: a 100 ms task, then no queueing behind it).
    const long = assigns(s.step({ type: 'addJob', jobId: 'long', taskCount: 3 }, 0))
    expect(long).toHaveLength(3)
    const next = assigns(s.step(ok(long[0]!), 100))
    expect(next).toHaveLength(0)
    s.step({ type: 'workers', workers: [L(), R()] }, 100)
    // The tiny job, its pace and run time known from a few tasks on R.
    const tiny = assigns(s.step({ type: 'addJob', jobId: 't', taskCount: 100 }, 100))
    expect(new Set(tiny.map(a => a.peerId))).toEqual(new Set(['L', 'R']))
    const onR = tiny.filter(a => a.peerId === 'R')
    // L's slots run the long job's tasks: the tiny one is placed as any short job, not kept waiting for L.
    const more = assigns(s.step(done(onR[0]!, 0.01), 100.5))
    expect(more.map(a => a.peerId)).toContain('R')
  })

  it('retry a task that failed locally on another node', () => {
    const s = at({ maxAttempts: 3 })
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 100 }, 0))
    const { later, inFlight } = drive(s, first, 0.01, 8)
    expect(new Set(later)).toEqual(new Set(['L']))
    expect(s.job('j')!.inFlightByPeer).toEqual({ L: 8 })
    // An attempt on L fails: its retry goes to R; the slot it freed on L takes the next task.
    const victim = inFlight.find(a => a.peerId === 'L')!
    expect(assigns(s.step(failed(victim), 2))).toEqual([
      assign('R', 'j', victim.taskIndex, 2),
      expect.objectContaining({ peerId: 'L', jobId: 'j' }),
    ])
  })

  it('leave room for other jobs on other nodes while they wait for local room', () => {
    const s = at()
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 't', taskCount: 1000 }, 0))
    drive(s, first.filter(a => a.peerId === 'L'), 0.01, 4)
    // R's first attempts of t are answered: R is free, and t keeps to L.
    for (const a of first.filter(a => a.peerId === 'R')) expect(assigns(s.step(done(a, 0.01), 1)).every(x => x.peerId === 'L')).toBe(true)
    // Another job arrives: it gets R although t is first in fair-share order and waits for room on L.
    const other = assigns(s.step({ type: 'addJob', jobId: 'o', taskCount: 10 }, 2))
    expect(other.length).toBeGreaterThan(0)
    expect(other.every(a => a.peerId === 'R' && a.jobId === 'o')).toBe(true)
  })

  it('are kept there however long the first round trips take (workers still starting their executors)', () => {
    const s = at()
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 100 }, 0))
    // 300 ms round trips: not a short job, but each task ran 10 µs.
    const next = assigns(s.step(done(first.find(a => a.peerId === 'R')!, 0.01), 300))
    expect(next.length).toBeGreaterThan(0)
    expect(new Set(next.map(a => a.peerId))).toEqual(new Set(['L']))
    // The deeper window: up to 8 on L although the job's round trips are long.
    expect(s.job('j')!.inFlightByPeer.L).toBe(8)
  })

  it('copy their lagging attempts on other nodes here once nothing is queued, but not their local ones elsewhere', () => {
    const s = at({ backupMinMs: 1000, backupFactor: 3 })
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 40 }, 0))
    const onR = first.filter(a => a.peerId === 'R')
    // L answers everything it gets, 0.1 ms apart; R answers nothing (its executors are starting).
    const inFlight = first.filter(a => a.peerId === 'L')
    let now = 0
    while (inFlight.length > 0) {
      now += 0.1
      const out = assigns(s.step(done(inFlight.shift()!, 0.01), now))
      expect(out.every(a => a.peerId === 'L')).toBe(true)
      inFlight.push(...out)
      if (s.job('j')!.queued === 0 && inFlight.length === 4) break
    }
    expect(s.job('j')!.queued).toBe(0)
    expect(inFlight).toHaveLength(4)
    // A tick 10 ms on: R's attempts ran longer than 3 x the median round trip, far below backupMinMs.
    const backups = assigns(s.step({ type: 'tick' }, now + 10))
    expect(backups.map(a => [a.peerId, a.taskIndex, a.backup])).toEqual(onR.slice(0, backups.length).map(a => ['L', a.taskIndex, true]))
    expect(backups.length).toBeGreaterThan(0)
    // L's own attempts, as old, get no copy on R before backupMinMs.
    expect(backups.some(b => inFlight.some(a => a.taskIndex === b.taskIndex))).toBe(false)
  })

  it('are configured within bounds: localRunBelowMsPerSlot a finite number >= 0', () => {
    expect(() => at({ localRunBelowMsPerSlot: -1 })).toThrow(/localRunBelowMsPerSlot must be a finite number >= 0, got -1/)
    expect(() => at({ localRunBelowMsPerSlot: Infinity })).toThrow(/localRunBelowMsPerSlot/)
    expect(() => at({ localRunBelowMsPerSlot: 0 })).not.toThrow()
  })
})

describe('groups of tiny tasks on the coordinator\'s node', () => {
  const cfg = { windowPerSlot: 2, shortWindowPerSlot: 4, shortTaskBelowMs: 5, localRunBelowMsPerSlot: 0.025, localGroupMax: 8 }
  const at = (config: Partial<SchedulerConfig> = {}): Scheduler => new Scheduler({ ...cfg, ...config }, seededRandom(1), 'L')
  const L = (o: Partial<WorkerView> = {}): WorkerView => worker('L', { slotsTotal: 2, slotsFree: 2, ...o })
  const R = (o: Partial<WorkerView> = {}): WorkerView => worker('R', { slotsTotal: 2, slotsFree: 2, ...o })
  /** A whole attempt answered, its group's results too; `runMs` for all its tasks together. */
  const done = (a: Assign, runMs = 0.01 * (1 + (a.group?.length ?? 0))): SchedulerEvent =>
    ({ type: 'taskOk', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, result: a.taskIndex, runMs, ...(a.group !== undefined ? { group: a.group.map(i => [i, i] as const) } : {}) })
  const tasksOf = (a: Assign): number[] => [a.taskIndex, ...(a.group ?? [])]

  /**
   * A job of `tasks` tiny tasks on L and R, answered oldest first until it is kept on L and every
   * attempt in flight carries a group (with groups on); returns the scheduler and those attempts.
   */
  function kept (tasks: number, config: Partial<SchedulerConfig> = {}): { s: Scheduler, inFlight: Assign[], now: number } {
    const s = at(config)
    s.step({ type: 'workers', workers: [L(), R()] }, 0)
    const inFlight = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: tasks }, 0))
    // R's first attempts answer first: their run time keeps the job on L from then on.
    inFlight.sort((a, b) => (a.peerId === 'R' ? 0 : 1) - (b.peerId === 'R' ? 0 : 1))
    let now = 0
    const grouping = (config.localGroupMax ?? cfg.localGroupMax) > 1
    while (inFlight.some(a => a.peerId === 'R' || (grouping && a.group === undefined))) {
      now += 0.1
      inFlight.push(...assigns(s.step(done(inFlight.shift()!), now)))
    }
    return { s, inFlight, now }
  }

  /** Answers L's attempts oldest first until the job ends; returns every assign made. */
  function finish (s: Scheduler, inFlight: Assign[], now: number): { made: Assign[], effects: SchedulerEffect[] } {
    const made: Assign[] = []
    const effects: SchedulerEffect[] = []
    while (inFlight.length > 0) {
      now += 0.1
      const out = s.step(done(inFlight.shift()!), now)
      effects.push(...out)
      made.push(...assigns(out))
      inFlight.push(...assigns(out))
    }
    return { made, effects }
  }

  it('run up to localGroupMax tasks per attempt on that node, every task once, counted as tasks', () => {
    const { s, inFlight, now } = kept(1000)
    // One group per slot of L.
    expect(inFlight.map(a => [a.peerId, tasksOf(a).length])).toEqual([['L', 8], ['L', 8]])
    const { made, effects } = finish(s, inFlight, now)
    expect(made.every(a => a.peerId === 'L')).toBe(true)
    expect(Math.max(...made.map(a => tasksOf(a).length))).toBe(8)
    // Most attempts carry a full group: about 1000 / 8 attempts, not 1000.
    expect(made.length).toBeLessThan(200)
    const done = effects.find(e => e.type === 'jobDone')
    expect(done).toMatchObject({ tasksByPeer: { L: 996, R: 4 } })
    expect((done as Extract<SchedulerEffect, { type: 'jobDone' }>).results).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(s.stats()).toMatchObject({ inFlight: 0, freeSlots: 8, freeShortSlots: 16, duplicatesDiscarded: 0, droppedEvents: 0 })
  })

  it('shrink as the queue runs short, so every slot still gets work', () => {
    const { s, inFlight, now } = kept(200)
    const { made } = finish(s, inFlight, now)
    const sizes = made.map(a => tasksOf(a).length)
    // Full groups while the queue fills one per slot, then smaller ones (8, …, 4, 2, 1, 1 seen), then single tasks.
    expect(sizes[0]).toBe(8)
    expect(sizes.every((n, k) => k === 0 || n <= sizes[k - 1]!)).toBe(true)
    expect(sizes.some(n => n > 1 && n < 8)).toBe(true)
    expect(sizes.at(-1)).toBe(1)
  })

  it('are not formed with localGroupMax 1, for jobs not kept here, or on other nodes', () => {
    const { s, inFlight, now } = kept(300, { localGroupMax: 1 })
    expect(finish(s, inFlight, now).made.every(a => a.group === undefined)).toBe(true)
    // Tasks running 50 µs: the job is not kept, so spread, one task per attempt (with groups for
    // fine spread tasks off; see the next test).
    const t = at({ remoteGroupRunMs: 0 })
    t.step({ type: 'workers', workers: [L(), R()] }, 0)
    const all: Assign[] = []
    const queue = assigns(t.step({ type: 'addJob', jobId: 'j', taskCount: 300 }, 0))
    let clock = 0
    while (queue.length > 0) {
      clock += 0.1
      const out = assigns(t.step(done(queue.shift()!, 0.05), clock))
      all.push(...out)
      queue.push(...out)
    }
    expect(all.every(a => a.group === undefined)).toBe(true)
    expect(new Set(all.map(a => a.peerId))).toEqual(new Set(['L', 'R']))
  })

  it('of fine tasks spread over the mesh go to every node, about remoteGroupRunMs of work each', () => {
    // 2 ms tasks (not kept: 2 ms is far above localRunBelowMsPerSlot), groups of ~20 ms on L and R.
    const t = at({ remoteGroupRunMs: 20, localGroupMax: 32 })
    t.step({ type: 'workers', workers: [L(), R()] }, 0)
    const all: Assign[] = []
    const queue = assigns(t.step({ type: 'addJob', jobId: 'j', taskCount: 2000 }, 0))
    let clock = 0
    let doneTasks = 0
    while (queue.length > 0) {
      const a = queue.shift()!
      clock += 1
      doneTasks += tasksOf(a).length
      const out = assigns(t.step(done(a, 2 * tasksOf(a).length), clock))
      all.push(...out)
      queue.push(...out)
    }
    expect(doneTasks).toBe(2000)
    const grouped = all.filter(a => a.group !== undefined)
    expect(new Set(grouped.map(a => a.peerId))).toEqual(new Set(['L', 'R']))
    // About 20 ms of 2 ms tasks: 10 per attempt, never more; fewer towards the end of the queue.
    expect(Math.max(...grouped.map(a => tasksOf(a).length))).toBe(10)
    expect(all.length).toBeLessThan(2000 / 5)
    expect(t.job('j')).toMatchObject({ state: 'done', done: 2000 })
  })

  it('that fail run their tasks again one by one, without counting a failure; a lone task\'s failure counts', () => {
    const { s, inFlight } = kept(400)
    const group = inFlight.find(a => a.group !== undefined)!
    const again = assigns(s.step(failed(group, 'threw: one of them'), 5))
    expect(s.job('j')!.failures).toBe(0)
    // The group's tasks are back at the front of the queue and leave alone, as many as the deeper window holds.
    expect(again.length).toBeGreaterThan(1)
    expect(again.map(a => [a.taskIndex, a.group])).toEqual(tasksOf(group).slice(0, again.length).map(i => [i, undefined]))
    s.step(failed(again[0]!, 'threw: this one'), 6)
    expect(s.job('j')!.failures).toBe(1)
  })

  it('that crash their executor count toward no task\'s poison rule: their tasks run alone and count from then on', () => {
    const { s, inFlight } = kept(400, { unreachableCooldownMs: 2 })
    const exited = (a: Assign): SchedulerEvent => ({ type: 'taskFailed', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, error: 'exited: task ended the executor process (signal SIGKILL)', kind: 'exited' })
    const group = inFlight.find(a => a.group !== undefined)!
    expect(assigns(s.step(exited(group), 5)).every(a => a.group === undefined)).toBe(true)
    expect(s.job('j')!.failures).toBe(0)
    // L stops gracefully: its attempts go to R, uncounted. A task of the crashed group then kills
    // its executor on R: one node so far (the group's crash on L was not held against it).
    const moved = assigns(s.step({ type: 'peerUnreachable', peerId: 'L', left: true }, 6))
    const onR = moved.find(a => tasksOf(group).includes(a.taskIndex))!
    expect(onR).toMatchObject({ peerId: 'R' })
    // L is back (its cooldown is over): the retry avoids R.
    // L is back (its cooldown is over): the retry avoids R and waits for room on L.
    const pending = assigns(s.step(exited(onR), 9))
    let clock = 9
    let retry = pending.find(a => a.taskIndex === onR.taskIndex)
    while (retry === undefined && pending.length > 0) {
      const out = assigns(s.step(done(pending.shift()!), clock += 0.1))
      pending.push(...out)
      retry = out.find(a => a.taskIndex === onR.taskIndex)
    }
    expect(retry).toMatchObject({ peerId: 'L' })
    expect(retry!.group).toBeUndefined()
    expect(s.job('j')).toMatchObject({ state: 'running', failures: 1 })
    // Its next executor death, on L, is its second node: R first, then L.
    const out = s.step(exited(retry!), clock + 1)
    expect(out.at(-1)).toMatchObject({ type: 'jobFailed', taskIndex: onR.taskIndex, error: expect.stringContaining('on 2 nodes (R, L)') })
  })

  it('that fail for good fail the job', () => {
    const { s, inFlight } = kept(400)
    const group = inFlight.find(a => a.group !== undefined)!
    const out = s.step(failed(group, 'bad-code: no map()', false), 5)
    expect(out.find(e => e.type === 'jobFailed')).toMatchObject({ jobId: 'j', taskIndex: group.taskIndex })
  })

  it('that time out run their tasks again one by one, without counting a failure', () => {
    const { s, inFlight, now } = kept(400, { taskTimeoutMs: 1000 })
    const groups = inFlight.filter(a => a.group !== undefined)
    expect(groups.length).toBeGreaterThan(0)
    const out = s.step({ type: 'tick' }, now + 1000)
    expect(s.stats().timeouts).toBe(inFlight.length)
    expect(s.job('j')!.failures).toBe(inFlight.length - groups.length)
    // Answered from now on: each task of the timed-out groups comes back once, alone, and the job ends.
    const grouped = new Set(groups.flatMap(tasksOf))
    const { made, effects } = finish(s, assigns(out), now + 1000)
    const again = [...assigns(out), ...made].filter(a => tasksOf(a).some(i => grouped.has(i)))
    expect(again).toHaveLength(grouped.size)
    expect(again.every(a => a.group === undefined)).toBe(true)
    expect(effects.some(e => e.type === 'jobDone')).toBe(true)
  })

  it('lost with their node run their tasks again elsewhere, one by one', () => {
    const { s, inFlight } = kept(100)
    const groups = inFlight.filter(a => a.group !== undefined)
    const out = assigns(s.step({ type: 'peerUnreachable', peerId: 'L' }, 5))
    expect(out.length).toBeGreaterThan(0)
    expect(out.every(a => a.peerId === 'R' && a.group === undefined)).toBe(true)
    expect(out.map(a => a.taskIndex)).toContain(groups[0]!.group![0])
    expect(s.job('j')!.failures).toBe(0)
  })

  it('are answered whole: a result naming other tasks is refused and the attempt keeps running', () => {
    const { s, inFlight } = kept(400)
    const group = inFlight.find(a => a.group !== undefined)!
    const wrong: SchedulerEvent = { ...done(group), group: group.group!.map(i => [i + 1, i] as const) } as SchedulerEvent
    expect(s.step(wrong, 5)).toEqual([])
    const short: SchedulerEvent = { type: 'taskOk', jobId: 'j', taskIndex: group.taskIndex, attemptId: group.attemptId, result: 1 }
    expect(s.step(short, 5)).toEqual([])
    expect(s.stats().droppedEvents).toBe(2)
    const before = s.job('j')!.done
    expect(s.step(done(group), 6).filter(e => e.type === 'taskDone' || e.type === 'assign').length).toBeGreaterThan(0)
    expect(s.job('j')!.done).toBe(before + tasksOf(group).length)
  })

  it('are configured within bounds: localGroupMax an integer in [1, 1024]', () => {
    expect(() => at({ localGroupMax: 0 })).toThrow(/localGroupMax must be an integer in \[1, 1024\], got 0/)
    expect(() => at({ localGroupMax: 1.5 })).toThrow(/localGroupMax/)
    expect(() => at({ localGroupMax: 1024 })).not.toThrow()
  })
})

describe('fair share', () => {
  it('starts a small job behind a big one on the next free slot', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
    const big = assigns(s.step({ type: 'addJob', jobId: 'big', taskCount: 10_000 }, 0))
    expect(big).toHaveLength(4)
    expect(s.step({ type: 'addJob', jobId: 'small', taskCount: 10 }, 1)).toEqual([])
    // Slots go to the small job until both have an equal share of the window...
    expect(s.step(ok(big[0]!), 2)).toEqual([assign('A', 'small', 0, 1)])
    expect(s.step(ok(big[1]!), 3)).toEqual([assign('A', 'small', 1, 1)])
    // ...then to whichever is below it: big has 1 in flight, small 2.
    expect(s.step(ok(big[2]!), 4)).toEqual([assign('A', 'big', 4, 1)])
    // Equal (2 and 2): the earlier job.
    expect(s.step(ok(assign('A', 'small', 0, 1)), 5)).toEqual([assign('A', 'small', 2, 1)])
    expect(s.step(ok(big[3]!), 6)).toEqual([assign('A', 'big', 5, 1)])
  })

  it('breaks ties in favour of the earlier job', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'addJob', jobId: 'first', taskCount: 3 }, 0)
    s.step({ type: 'addJob', jobId: 'second', taskCount: 3 }, 0)
    const effects = assigns(s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 4, slotsFree: 4 })] }, 1))
    expect(effects.map(a => a.jobId)).toEqual(['first', 'second', 'first', 'second'])
  })

  it('shares slots in proportion to weight without starving the light job', () => {
    const s = make({ windowPerSlot: 1 })
    const views = [worker('A', { slotsTotal: 10, slotsFree: 10 })]
    s.step({ type: 'workers', workers: views }, 0)
    const inFlight: Assign[] = assigns(s.step({ type: 'addJob', jobId: 'low', taskCount: 1000, weight: 0.25 }, 0))
    expect(inFlight).toHaveLength(10)
    s.step({ type: 'addJob', jobId: 'high', taskCount: 1000, weight: 4 }, 0)
    let low = 0
    for (let i = 0; i < 200; i++) {
      const done = inFlight.shift()!
      for (const a of assigns(s.step(ok(done), i + 1))) {
        if (a.jobId === 'low') low++
        inFlight.push(a)
      }
    }
    // Steady state: high/4 ≈ low/0.25 over 10 slots -> high 9 or 10, low 0 or 1 ... with at least one.
    const high = s.job('high')!.inFlight
    expect(high + s.job('low')!.inFlight).toBe(10)
    expect(s.job('low')!.inFlight).toBe(1)
    expect(high).toBe(9)
    expect(low).toBeGreaterThan(0)
  })

  it('splits 4:1 between high and normal weight', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 10, slotsFree: 10 })] }, 0)
    const inFlight: Assign[] = assigns(s.step({ type: 'addJob', jobId: 'normal', taskCount: 1000 }, 0))
    s.step({ type: 'addJob', jobId: 'high', taskCount: 1000, weight: 4 }, 0)
    for (let i = 0; i < 100; i++) inFlight.push(...assigns(s.step(ok(inFlight.shift()!), i + 1)))
    expect([s.job('high')!.inFlight, s.job('normal')!.inFlight]).toEqual([8, 2])
  })
})

// ---- job lifecycle ----

describe('job lifecycle', () => {
  it('returns results in chunk order whatever the completion order', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 })] }, 0)
    const a = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 4 }, 0))
    expect(s.step(ok(a[3]!, 'd'), 1)).toEqual([])
    expect(s.step(ok(a[1]!, 'b'), 2)).toEqual([])
    expect(s.step(ok(a[2]!, 'c'), 3)).toEqual([])
    expect(s.job('j')).toMatchObject({ state: 'running', done: 3, total: 4, inFlight: 1, byPeer: { A: 3 } })
    expect(s.step(ok(a[0]!, 'a'), 4)).toEqual([
      { type: 'jobDone', jobId: 'j', results: ['a', 'b', 'c', 'd'], tasksByPeer: { A: 4 }, duplicatesDiscarded: 0 },
    ])
  })

  it('counts results of unknown attempts as duplicates and reports them', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    const [a] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    expect(s.step({ type: 'taskOk', jobId: 'j', taskIndex: 0, attemptId: 'j:0:99', result: 'forged' }, 1)).toEqual([])
    expect(s.step(ok(a!, 'real'), 2)).toEqual([{ type: 'jobDone', jobId: 'j', results: ['real'], tasksByPeer: { A: 1 }, duplicatesDiscarded: 1 }])
  })

  it('restores completed tasks and runs only the rest', () => {
    const s = make({ windowPerSlot: 4 })
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    const a = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 4, done: new Map<number, unknown>([[0, 'r0'], [2, 'r2'], [9, 'bogus'], [-1, 'bogus']]) }, 0))
    expect(a).toEqual([assign('A', 'j', 1, 1), assign('A', 'j', 3, 1)])
    expect(s.job('j')).toMatchObject({ done: 2, total: 4 })
    s.step(ok(a[0]!), 1)
    expect(s.step(ok(a[1]!), 2)).toEqual([{ type: 'jobDone', jobId: 'j', results: ['r0', 'r1', 'r2', 'r3'], tasksByPeer: { A: 2 }, duplicatesDiscarded: 0 }])
  })

  it('suffixes attempt ids with the term, so a re-added job never reuses an id', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)).toEqual([assign('A', 'j', 0, 1)])
    s.step({ type: 'cancelJob', jobId: 'j' }, 1)
    expect(s.step({ type: 'addJob', jobId: 'j', taskCount: 1, term: 2 }, 2)).toEqual([{ ...assign('A', 'j', 0, 1), attemptId: 'j:0:1@2' }])
    // The first run's late result is not taken for the second run's.
    expect(s.step(ok(assign('A', 'j', 0, 1)), 3)).toEqual([])
    expect(s.step({ type: 'taskOk', jobId: 'j', taskIndex: 0, attemptId: 'j:0:1@2', result: 'x' }, 4))
      .toEqual([{ type: 'jobDone', jobId: 'j', results: ['x'], tasksByPeer: { A: 1 }, duplicatesDiscarded: 1 }])
  })

  it('finishes at once when nothing is left to do', () => {
    const s = make()
    expect(s.step({ type: 'addJob', jobId: 'empty', taskCount: 0 }, 0)).toEqual([{ type: 'jobDone', jobId: 'empty', results: [], tasksByPeer: {}, duplicatesDiscarded: 0 }])
    expect(s.step({ type: 'addJob', jobId: 'restored', taskCount: 1, done: new Map([[0, 'x']]) }, 0))
      .toEqual([{ type: 'jobDone', jobId: 'restored', results: ['x'], tasksByPeer: {}, duplicatesDiscarded: 0 }])
  })

  it('cancels: aborts every attempt, reports it, and hands the slots to other jobs', () => {
    const s = make({ windowPerSlot: 1 })
    s.step({ type: 'workers', workers: [worker('A'), worker('B')] }, 0)
    const a = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 5 }, 0))
    s.step({ type: 'addJob', jobId: 'k', taskCount: 5 }, 0)
    const effects = s.step({ type: 'cancelJob', jobId: 'j' }, 1)
    expect(effects.slice(0, 3)).toEqual([
      abort(a[0]!.peerId, 'j', 0, 1),
      abort(a[1]!.peerId, 'j', 1, 1),
      { type: 'jobCancelled', jobId: 'j' },
    ])
    const next = effects.slice(3) as Assign[]
    expect(next.map(e => e.attemptId)).toEqual(['k:0:1', 'k:1:1'])
    expect(new Set(next.map(e => e.peerId))).toEqual(new Set(['A', 'B']))
    expect(s.job('j')).toMatchObject({ state: 'cancelled', inFlight: 0 })
    expect(s.step({ type: 'cancelJob', jobId: 'j' }, 2)).toEqual([])
    expect(s.step(ok(a[0]!), 3)).toEqual([])
  })

  it('refuses a job over maxTasksPerJob or jobsMax with a clear error', () => {
    const s = make({ maxTasksPerJob: 100, jobsMax: 1 })
    expect(s.step({ type: 'addJob', jobId: 'huge', taskCount: 101 }, 0)).toEqual([
      { type: 'jobFailed', jobId: 'huge', error: 'Job has 101 tasks, more than the limit of 100 (maxTasksPerJob)', taskIndex: null },
    ])
    expect(s.step({ type: 'addJob', jobId: 'one', taskCount: 1 }, 0)).toEqual([])
    expect(s.step({ type: 'addJob', jobId: 'two', taskCount: 1 }, 0)).toEqual([
      { type: 'jobFailed', jobId: 'two', error: 'Too many running jobs: the limit is 1 (jobsMax)', taskIndex: null },
    ])
    expect(s.step({ type: 'addJob', jobId: 'bad', taskCount: 1.5 }, 0)).toEqual([
      { type: 'jobFailed', jobId: 'bad', error: 'Invalid task count 1.5: expected an integer >= 0', taskIndex: null },
    ])
    expect(s.job('huge')).toMatchObject({ state: 'failed' })
    expect(s.jobs().map(j => [j.jobId, j.state])).toEqual([['one', 'running'], ['huge', 'failed'], ['two', 'failed'], ['bad', 'failed']])
  })

  it('ignores and counts events about unknown jobs, duplicate adds and malformed events', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A')] }, 0)
    s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0)
    const junk: unknown[] = [
      { type: 'taskOk', jobId: 'nope', taskIndex: 0, attemptId: 'nope:0:1', result: 1 },
      { type: 'taskFailed', jobId: 'nope', taskIndex: 0, attemptId: 'x', error: 'e' },
      { type: 'cancelJob', jobId: 'nope' },
      { type: 'addJob', jobId: 'j', taskCount: 3 },
      { type: 'taskOk', jobId: 'j', taskIndex: 5, attemptId: 'j:0:1', result: 1 }, // index does not match the attempt
      { type: 'bogus' },
      { type: 'workers', workers: 'A' },
      null,
      42,
      { type: 'addJob', jobId: 7, taskCount: 1 },
      { type: 'cancelJob' },
    ]
    for (const e of junk) expect(s.step(e as SchedulerEvent, 1)).toEqual([])
    expect(s.stats().droppedEvents).toBe(junk.length)
    expect(s.job('j')).toMatchObject({ state: 'running', inFlight: 1, total: 1 })
  })

  it('forgets the oldest finished jobs beyond finishedJobsMax', () => {
    const s = make({ finishedJobsMax: 2 })
    for (const id of ['a', 'b', 'c']) s.step({ type: 'addJob', jobId: id, taskCount: 0 }, 0)
    expect(s.jobs().map(j => j.jobId)).toEqual(['b', 'c'])
    expect(s.job('a')).toBeUndefined()
  })
})

// ---- robustness and scale ----

describe('robustness', () => {
  const peerIds = ['A', 'B', 'C', 'D']
  const jobIdArb = fc.constantFrom('j0', 'j1', 'j2', 'x')
  const viewArb = fc.record({
    peerId: fc.constantFrom(...peerIds),
    slotsTotal: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 8 }, fc.integer({ min: -1, max: 0 }), fc.constant(Number.NaN)),
    slotsFree: fc.integer({ min: -1, max: 5 }),
    cpuLoad: fc.double({ min: -1, max: 2, noNaN: false }),
    memFree: fc.constant(1e9),
    accepting: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, fc.constant(false)),
    status: fc.constantFrom('alive', 'alive', 'alive', 'alive', 'suspect', 'dead', 'left', 'weird'),
  })
  // Attempt ids are drawn from the ones the scheduler really issued (by index), plus junk.
  const eventArb = fc.oneof(
    { arbitrary: fc.record({ type: fc.constant('addJob'), jobId: jobIdArb, taskCount: fc.integer({ min: -1, max: 30 }), weight: fc.constantFrom(undefined, 0.25, 1, 4, -1, Number.NaN) }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('workers'), workers: fc.array(viewArb, { maxLength: 5 }) }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('taskOk'), pick: fc.nat(), result: fc.integer() }), weight: 12 },
    { arbitrary: fc.record({ type: fc.constant('taskFailed'), pick: fc.nat(), retryable: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, fc.constant(false)) }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant('peerUnreachable'), peerId: fc.constantFrom(...peerIds, 'Z') }), weight: 1 },
    { arbitrary: fc.record({ type: fc.constant('cancelJob'), jobId: jobIdArb }), weight: 1 },
    { arbitrary: fc.record({ type: fc.constant('tick') }), weight: 4 },
    { arbitrary: fc.constant({ type: 'garbage' }), weight: 1 },
  )

  // With the deeper window of short jobs on, durations (0-800 ms between events) make jobs of all three paces.
  it.each([
    ['', {}],
    [' (deeper windows for short jobs on)', { shortTaskBelowMs: 100, shortWindowPerSlot: 4, pipelineBelowMs: 400 }],
  ] as Array<[string, Partial<SchedulerConfig>]>)('never throws and keeps its invariants under random event sequences%s', (_name, pace) => {
    const deep = pace.shortTaskBelowMs !== undefined
    fc.assert(fc.property(fc.array(fc.tuple(eventArb, fc.integer({ min: 0, max: 800 })), { minLength: 20, maxLength: 200 }), fc.integer(), (steps, seed) => {
      const s = make({ taskTimeoutMs: 2000, backupMinMs: 100, windowPerSlot: 2, maxAttempts: 3, unreachableCooldownMs: 300, ...pace }, seed)
      const issued: Assign[] = []
      const attemptIds = new Set<string>()
      const live = new Map<string, Assign>()
      let now = 0
      let term = 0
      for (const [raw, dt] of steps) {
        now += dt
        let event: SchedulerEvent
        if (raw.type === 'taskOk' || raw.type === 'taskFailed') {
          // Mostly recent attempts (likely still running), sometimes any.
          const pick = (raw as { pick: number }).pick
          const a = issued[pick % 3 === 0 ? pick % Math.max(1, issued.length) : issued.length - 1 - (pick % Math.min(8, Math.max(1, issued.length)))]
          const target = a ?? { jobId: 'j0', taskIndex: 0, attemptId: 'j0:0:1' }
          event = raw.type === 'taskOk' ? ok(target, (raw as { result: number }).result) : failed(target, 'e', (raw as { retryable: boolean }).retryable)
        } else if (raw.type === 'addJob') {
          event = { ...(raw as Extract<SchedulerEvent, { type: 'addJob' }>), term: ++term } // a new term per run of a job
        } else {
          event = raw as SchedulerEvent
        }
        const effects = s.step(event, now)
        for (const e of effects) {
          if (e.type === 'assign') {
            expect(attemptIds.has(e.attemptId)).toBe(false) // ids are never reused
            attemptIds.add(e.attemptId)
            issued.push(e)
            live.set(e.attemptId, e)
          } else if (e.type === 'abort') {
            expect(live.delete(e.attemptId)).toBe(true) // only running attempts are aborted
          } else if (e.type === 'jobDone') {
            expect(e.results).toHaveLength(s.job(e.jobId)!.total)
          }
        }
        if (event.type === 'taskOk' || event.type === 'taskFailed') live.delete(event.attemptId)
        const stats = s.stats()
        let inFlight = 0
        for (const j of s.jobs()) {
          inFlight += j.inFlight
          if (j.state !== 'running') {
            expect(j.inFlight).toBe(0)
            continue
          }
          // Every task is done, queued or running (with at most one backup).
          const running = j.total - j.done - j.queued
          expect(running).toBeGreaterThanOrEqual(0)
          expect(j.inFlight).toBeGreaterThanOrEqual(running)
          expect(j.inFlight).toBeLessThanOrEqual(2 * running)
        }
        expect(inFlight).toBe(stats.inFlight)
        const workers = new Map(s.workers().map(w => [w.peerId, w]))
        for (const w of workers.values()) expect(['alive', 'suspect']).toContain(w.status)
        // Every running attempt sits on a known worker (lost ones were re-queued).
        expect([...workers.values()].reduce((sum, w) => sum + w.inFlight, 0)).toBe(stats.inFlight)
        // The free-slot counts the scheduler keeps incrementally match a recount.
        const taking = [...workers.values()].filter(w => w.status === 'alive' && w.accepting)
        expect(stats.freeSlots).toBe(taking.reduce((sum, w) => sum + Math.max(0, w.window - w.inFlight), 0))
        expect(stats.freeShortSlots).toBe(taking.reduce((sum, w) => sum + Math.max(0, w.shortWindow - w.inFlight), 0))
        // New work only goes to alive, accepting workers with room in their window (the deeper one for short jobs).
        for (const e of effects) {
          if (e.type !== 'assign') continue
          const w = workers.get(e.peerId)!
          expect(w).toMatchObject({ status: 'alive', accepting: true })
          expect(w.inFlight).toBeLessThanOrEqual(deep ? w.shortWindow : w.window)
          expect(now).toBeGreaterThanOrEqual(w.unreachableUntilMs)
        }
      }
    }), { numRuns: 300, seed: 42 })
  })

  it('never assigns beyond a worker\'s window while slots stay put', () => {
    const s = make({ windowPerSlot: 3 })
    s.step({ type: 'workers', workers: [worker('A', { slotsTotal: 2, slotsFree: 2 }), worker('B', { slotsTotal: 5, slotsFree: 5 })] }, 0)
    for (let j = 0; j < 20; j++) s.step({ type: 'addJob', jobId: `j${j}`, taskCount: 50, weight: j % 3 === 0 ? 4 : 1 }, 0)
    expect(s.workers().map(w => [w.peerId, w.inFlight])).toEqual([['A', 6], ['B', 15]])
  })

  it('runs 100,000 tasks over 50 workers with bounded work per event', () => {
    const s = make({}, 11)
    const views = Array.from({ length: 50 }, (_, i) => worker(`w${i}`, { slotsTotal: 4, slotsFree: 4 }))
    const { log } = runMesh(s, views, [{ type: 'addJob', jobId: 'big', taskCount: 100_000 }], (_p, i) => 5 + (i % 7))
    const done = log.find(e => e.type === 'jobDone') as Extract<SchedulerEffect, { type: 'jobDone' }>
    expect(done.results).toHaveLength(100_000)
    expect(done.results[99_999]).toBe(999_990)
    expect(Object.values(done.tasksByPeer).reduce((x, y) => x + y, 0)).toBe(100_000)
  })
})
