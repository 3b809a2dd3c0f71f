import { describe, expect, it } from 'vitest'
import { FOLDED, unfolded } from '../../src/jobs/folded.js'
import { combineGroupSize, Scheduler, type SchedulerEffect, type SchedulerEvent, type WorkerView } from '../../src/jobs/scheduler.js'
import { taskResultOf } from '../../src/jobs/coordinated-jobs.js'
import { decodeRpc, encodeRpc, type RpcMessage } from '../../src/jobs/wire.js'
import { RawJson } from '../../src/jobs/raw-json.js'
import { seededRandom } from '../../src/util/prng.js'

// Combiners (a module's combine()): a combining job's tasks go to every worker in groups, each
// group's results folded there into one; the folded tasks are done and the reduce skips them.

type Assign = Extract<SchedulerEffect, { type: 'assign' }>
const worker = (peerId: string, slotsTotal = 2): WorkerView => ({ peerId, slotsTotal, slotsFree: slotsTotal, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' })
const assigns = (effects: SchedulerEffect[]): Assign[] => effects.filter((e): e is Assign => e.type === 'assign')

describe('combineGroupSize', () => {
  const table: Array<[queued: number, slots: number, max: number, size: number]> = [
    [64, 6, 32, 6], // 2 groups per slot: ⌈64 / 12⌉
    [12, 6, 32, 1],
    [13, 6, 32, 2],
    [1, 6, 32, 1],
    [0, 6, 32, 1],
    [10_000, 6, 32, 32], // capped by localGroupMax
    [64, 0, 32, 32], // no slots known: one slot
    [7, 1, 32, 4],
  ]
  for (const [queued, slots, max, size] of table) {
    it(`${queued} queued on ${slots} slots (max ${max}) → ${size}`, () => expect(combineGroupSize(queued, slots, max)).toBe(size))
  }
})

describe('a combining job in the scheduler', () => {
  const start = (taskCount: number, combine: boolean): { s: Scheduler, first: Assign[] } => {
    const s = new Scheduler({ shortTaskBelowMs: 0 }, seededRandom(7), 'A')
    s.step({ type: 'workers', workers: [worker('A'), worker('B'), worker('C')] }, 0)
    return { s, first: assigns(s.step({ type: 'addJob', jobId: 'j', taskCount, ...(combine ? { combine: true } : {}) }, 0)) }
  }
  const folded = (a: Assign): SchedulerEvent =>
    ({ type: 'taskOk', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, result: `sum of ${[a.taskIndex, ...(a.group ?? [])].join('+')}`, runMs: 5, ...(a.group !== undefined ? { group: a.group.map(i => [i, FOLDED] as const) } : {}) })

  it('sends groups to every worker, not only its own node, and every task exactly once', () => {
    const { first } = start(64, true)
    expect(new Set(first.map(a => a.peerId))).toEqual(new Set(['A', 'B', 'C']))
    expect(first[0]?.group?.length).toBe(5) // 6 tasks: ⌈64 / (2 × 6 slots)⌉
    const tasks = first.flatMap(a => [a.taskIndex, ...(a.group ?? [])])
    expect(new Set(tasks).size).toBe(tasks.length)
  })

  it('a job without combine() sends its tasks one by one', () => {
    expect(start(64, false).first.every(a => a.group === undefined)).toBe(true)
  })

  it('completes with the folded tasks in their slots, which the reduce skips', () => {
    const { s, first } = start(40, true)
    let pending = first
    let done: Extract<SchedulerEffect, { type: 'jobDone' }> | undefined
    for (let t = 1; pending.length > 0 && t < 1000; t++) {
      const a = pending.shift() as Assign
      const out = s.step(folded(a), t)
      pending.push(...assigns(out))
      done ??= out.find((e): e is Extract<SchedulerEffect, { type: 'jobDone' }> => e.type === 'jobDone')
    }
    expect(done).toBeDefined()
    const results = done?.results ?? []
    expect(results).toHaveLength(40)
    const kept = unfolded(results)
    expect(kept.length).toBeGreaterThan(1)
    expect(kept.length).toBeLessThan(40)
    // Every task is in exactly one kept result.
    const covered = kept.flatMap(r => String(r).replace('sum of ', '').split('+').map(Number))
    expect(covered.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i))
  })

  it('a failed group runs its tasks again one by one, unfolded', () => {
    const { s, first } = start(64, true)
    const group = first.find(a => a.group !== undefined) as Assign
    const again = assigns(s.step({ type: 'taskFailed', jobId: 'j', taskIndex: group.taskIndex, attemptId: group.attemptId, error: 'threw: combine() over tasks: boom' }, 1))
    const retried = [group.taskIndex, ...(group.group ?? [])]
    for (const a of again.filter(a => retried.includes(a.taskIndex))) expect(a.group).toBeUndefined()
  })
})

describe('folded results on the wire', () => {
  const peer = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
  it('a job.progress entry without a value is a folded task, and survives a round trip', () => {
    const m = { t: 'job.progress', jobId: 'j1', term: 1, peers: [peer], done: [[0, 0, { a: 1 }], [1, 0, FOLDED]] } as unknown as RpcMessage
    const back = decodeRpc(encodeRpc(m))
    expect(back.ok && back.message.t === 'job.progress' && back.message.done).toEqual([[0, 0, new RawJson('{"a":1}')], [1, 0, FOLDED]])
    // Without attachments (JSON as an older encoder wrote it), a value-less entry reads the same.
    const json = decodeRpc(Buffer.from(JSON.stringify({ ...m, done: [[0, 0, { a: 1 }], [1, 0]] })))
    expect(json.ok && json.message.t === 'job.progress' && json.message.done).toEqual([[0, 0, { a: 1 }], [1, 0, FOLDED]])
  })

  it('a job.replica carries folded tasks the same way', () => {
    const spec = { jobId: 'j1', kind: 'function', codeHash: 'a'.repeat(64), moduleName: 'm.mjs', priority: 'normal', submitter: peer, submittedAtMs: 0, combine: true }
    const m = { t: 'job.replica', spec, code: 'x', chunks: [1, 2], replicaSet: [peer], term: 1, done: [[0, peer, 5], [1, peer, FOLDED]] } as unknown as RpcMessage
    const back = decodeRpc(encodeRpc(m))
    expect(back.ok && back.message.t === 'job.replica' && back.message.done).toEqual([[0, peer, new RawJson('5')], [1, peer, FOLDED]])
  })

  it('a folded task.ok names its group; the coordinator reads its other tasks as folded', () => {
    const ok = { t: 'task.ok', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', value: { a: 2 }, ms: 3, group: [[1, null], [2, null]], folded: true }
    const decoded = decodeRpc(Buffer.from(JSON.stringify(ok)))
    expect(decoded.ok).toBe(true)
    if (!decoded.ok || decoded.message.t !== 'task.ok') return
    expect(taskResultOf(decoded.message)).toMatchObject({ outcome: 'ok', value: { a: 2 }, group: [[1, FOLDED], [2, FOLDED]] })
    const noGroup = decodeRpc(Buffer.from(JSON.stringify({ ...ok, group: undefined })))
    expect(noGroup).toMatchObject({ ok: false, reason: expect.stringContaining('folded needs a group') })
  })
})
