import { describe, expect, it } from 'vitest'
import { WorkerCore, type Assign, type WorkerEffect } from '../../src/jobs/worker-core.js'

// The worker role's decisions, as the daemon's TaskWorker and the simulator both run them.

const assign = (attemptId: string, over: Partial<Assign> = {}): Assign =>
  ({ t: 'task.assign', jobId: 'j', taskIndex: 0, attemptId, term: 1, codeHash: 'h'.repeat(64), chunk: null, kind: 'function', ...over }) as Assign

const kinds = (effects: WorkerEffect[]): string[] => effects.map(e => e.type === 'send' ? (e.message.t === 'task.failed' ? `failed:${e.message.kind}` : e.message.t) : `${e.type}`)

describe('worker core: assignments', () => {
  const cases: Array<[string, (core: WorkerCore) => WorkerEffect[], string[]]> = [
    ['runs an assignment whose code is here', core => core.assign('C', assign('a'), true, true), ['run']],
    ['ignores the same attempt twice', core => { core.assign('C', assign('a'), true, true); return core.assign('C', assign('a'), true, true) }, []],
    ['refuses a stale term, naming the newer one', core => { core.assign('C2', assign('a', { term: 3 }), true, true); return core.assign('C', assign('b', { term: 2 }), true, true) }, ['failed:stale-term']],
    ['hands an assignment back while not accepting', core => core.assign('C', assign('a'), false, true), ['failed:returned']],
    ['asks for missing code once per hash', core => [...core.assign('C', assign('a'), true, false), ...core.assign('C', assign('b'), true, false)], ['code.get']],
    ['refuses more than waitingForCodeMax waiting for code', core => { core.assign('C', assign('a'), true, false); core.assign('C', assign('b'), true, false); return core.assign('C', assign('c', { codeHash: 'g'.repeat(64) }), true, false) }, ['failed:overloaded']],
  ]
  for (const [what, act, expected] of cases) {
    it(what, () => expect(kinds(act(new WorkerCore({ waitingForCodeMax: 2 })))).toEqual(expected))
  }

  it('a stale-term refusal names the job and the term it knows', () => {
    const core = new WorkerCore()
    core.assign('C2', assign('a', { term: 3 }), true, true)
    expect(core.assign('C', assign('b', { term: 2 }), true, true)).toEqual([{ type: 'send', to: 'C', message: { t: 'task.failed', jobId: 'j', taskIndex: 0, attemptId: 'b', kind: 'stale-term', error: 'job j has a coordinator with term 3' } }])
  })

  it('starts what waited once the code is here; refused code fails them as bad-code', () => {
    const core = new WorkerCore()
    core.assign('C', assign('a'), true, false)
    core.assign('C', assign('b'), true, false)
    expect(kinds(core.codeArrived('h'.repeat(64)))).toEqual(['run', 'run'])
    core.assign('C', assign('c', { codeHash: 'g'.repeat(64) }), true, false)
    expect(kinds(core.codeArrived('g'.repeat(64), 'hash mismatch'))).toEqual(['failed:bad-code'])
    expect(core.codeArrived('g'.repeat(64))).toEqual([])
  })

  it('remembers at most termsMax jobs, the oldest forgotten first', () => {
    const core = new WorkerCore({ termsMax: 2 })
    for (const jobId of ['j1', 'j2', 'j3']) core.assign('C', assign(`a-${jobId}`, { jobId, term: 5 }), true, true)
    expect([core.termOf('j1'), core.termOf('j2'), core.termOf('j3')]).toEqual([0, 5, 5])
  })
})

describe('worker core: aborts, takeovers and hand-backs', () => {
  it('aborts only for the coordinator that assigned the attempt; a waiting one never starts', () => {
    const core = new WorkerCore()
    core.assign('C', assign('a'), true, true)
    expect(core.abort('X', 'a')).toEqual([])
    expect(core.abort('C', 'a')).toEqual([{ type: 'abort', attemptId: 'a' }])
    // Its end after an abort answers nobody: the coordinator released it when it asked.
    expect(core.finished('a', { ok: false, kind: 'aborted', error: 'task aborted' })).toEqual([])
    core.assign('C', assign('w', { codeHash: 'g'.repeat(64) }), true, false)
    expect(core.abort('C', 'w')).toEqual([])
    expect(core.codeArrived('g'.repeat(64))).toEqual([])
  })

  it('a takeover abandons the old coordinator\'s attempts, keeps the new one\'s, and refuses the old term after', () => {
    const core = new WorkerCore()
    core.assign('Old', assign('a'), true, true)
    core.assign('New', assign('b', { term: 1 }), true, true)
    core.assign('Old', assign('c', { jobId: 'other' }), true, true)
    expect(core.takeover('j', 1, 'New')).toEqual([]) // not newer
    expect(core.takeover('j', 2, 'New')).toEqual([{ type: 'abort', attemptId: 'a' }])
    expect(kinds(core.assign('Old', assign('d', { term: 1 }), true, true))).toEqual(['failed:stale-term'])
  })

  it('gives back what waits for code and what runs, each as returned once its executor stops', () => {
    const core = new WorkerCore()
    core.assign('C', assign('run'), true, true)
    core.assign('C', assign('wait', { codeHash: 'g'.repeat(64) }), true, false)
    expect(kinds(core.giveBack())).toEqual(['failed:returned', 'abort'])
    expect(kinds(core.finished('run', { ok: false, kind: 'aborted', error: 'task aborted' }))).toEqual(['failed:returned'])
    expect(core.tasksReturned).toBe(2)
    expect(core.runningCount).toBe(0)
  })

  it('answers a result, a failure with its kind and bounded text, and a group with every value', () => {
    const core = new WorkerCore({ errorLengthMax: 5 })
    core.assign('C', assign('a'), true, true)
    expect(core.finished('a', { ok: true, value: 42, durationMs: 3 })).toEqual([{ type: 'send', to: 'C', message: { t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'a', value: 42, ms: 3 } }])
    core.assign('C', assign('b'), true, true)
    expect(core.finished('b', { ok: false, kind: 'oom', error: 'out of memory' })).toEqual([{ type: 'send', to: 'C', message: { t: 'task.failed', jobId: 'j', taskIndex: 0, attemptId: 'b', kind: 'oom', error: 'out o' } }])
    core.assign('C', assign('g', { group: [[1, null], [2, null]] }), true, true)
    expect(core.finished('g', { ok: true, value: [10, 11, 12], durationMs: 9 })).toMatchObject([{ message: { t: 'task.ok', value: 10, group: [[1, 11], [2, 12]] } }])
    core.assign('C', assign('bad', { group: [[1, null]] }), true, true)
    expect(kinds(core.finished('bad', { ok: true, value: [1], durationMs: 1 }))).toEqual(['failed:internal'])
    expect(core.tasksRun).toBe(1 + 1 + 3 + 2)
  })

  it('answers a combined group with its one value, the other tasks folded', () => {
    const core = new WorkerCore()
    core.assign('C', assign('g', { group: [[1, null], [2, null]], combine: true }), true, true)
    expect(core.finished('g', { ok: true, value: { a: 3 }, durationMs: 9, combined: true })).toEqual([{ type: 'send', to: 'C', message: { t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'g', value: { a: 3 }, ms: 9, group: [[1, null], [2, null]], folded: true } }])
    expect(core.tasksRun).toBe(3)
  })
})
