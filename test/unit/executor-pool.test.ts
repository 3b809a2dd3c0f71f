// The executor pool runs real child processes: the compiled child entry under dist/ must exist
// (`npm test` runs tsc first). Every pool is closed after each test, failures included.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ExecutorPool, type ExecutorPoolOptions, type TaskOp, type TaskOutcome } from '../../src/node/executor/executor-pool.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const childEntry = path.join(repoRoot, 'dist/src/node/executor/executor-child.js')

// One fixture module whose map() does what the chunk asks, so one code hash serves most tests.
const BEHAVIOUR = `
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
export default {
  *split (input, ctx) { for (let i = 0; i < ctx.parts; i++) yield { n: i } },
  map (chunk, ctx) {
    switch (chunk.do) {
      case 'double': return chunk.n * 2
      case 'ctx': return ctx
      case 'pid': return process.pid
      case 'async': return new Promise(resolve => setTimeout(() => resolve(chunk.n + 1), 5))
      case 'throw': throw new Error('boom ' + chunk.n)
      case 'reject': return Promise.reject(new Error('async boom'))
      case 'stray': setTimeout(() => { throw new Error('stray boom') }, 1); return new Promise(() => {})
      case 'hang': for (;;) {}
      case 'hangAsync': return new Promise(() => {})
      case 'sleep': sleep(chunk.ms); return 'slept'
      case 'sleepPid': sleep(chunk.ms); return process.pid
      case 'exit': process.exit(chunk.code)
      case 'oom': { const keep = []; for (;;) keep.push(new Array(100000).fill({ x: Math.random() })) }
      case 'fn': return { ok: 1, f () {} }
      case 'bigint': return { n: 10n }
      case 'circular': { const o = { a: 1 }; o.self = o; return o }
      case 'map': return new Map([[1, 2]])
      case 'undefined': return undefined
      default: return chunk
    }
  },
  reduce (results) { return results.reduce((a, b) => a + b, 0) },
}
`

let dir: string
const fixture = (name: string): string => path.join(dir, name)
let seq = 0
const req = (op: TaskOp, arg: unknown, module = 'behaviour.mjs', ctx: Record<string, unknown> = {}) =>
  ({ id: `t${++seq}`, op, modulePath: fixture(module), codeHash: `hash-${module}`, arg, ctx })

const pools: ExecutorPool[] = []
// Niceness 0 unless a test says otherwise: at 19 the children starve behind any other load on a
// busy CI machine, and the tests crawl.
function makePool (opts: Partial<ExecutorPoolOptions> = {}): ExecutorPool {
  const pool = new ExecutorPool({ slots: 1, childEntry, niceness: 0, ...opts })
  pools.push(pool)
  return pool
}

/** Polls a condition (never a fixed sleep); generous deadline for a busy 2-core CI machine. */
async function waitFor (cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
const value = (o: TaskOutcome): unknown => { if (!o.ok) throw new Error(`task failed: ${o.kind}: ${o.error}`); return o.value }
const failure = (o: TaskOutcome) => { if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o.value)}`); return o }

beforeAll(async () => {
  if (!existsSync(childEntry)) throw new Error(`${childEntry} is missing: run \`npx tsc -p tsconfig.json\` first`)
  dir = await mkdtemp(path.join(os.tmpdir(), 'meshwork-executor-'))
  await writeFile(fixture('behaviour.mjs'), BEHAVIOUR)
  await writeFile(fixture('named.mjs'), 'export function map (x) { return x + 1 }\nexport async function * split (s) { for (const c of s) yield c }\n')
  await writeFile(fixture('action.mjs'), "export default { kind: 'action', map () { return { big: 'ignored' } } }\n")
  await writeFile(fixture('action-throws.mjs'), "export default { kind: 'action', map () { throw new Error('action failed') } }\n")
  await writeFile(fixture('bytes.mjs'), 'export default { split (input) { return [Buffer.isBuffer(input), input.toString()] } }\n')
  await writeFile(fixture('no-map.mjs'), 'export default { split () { return [] } }\n')
  await writeFile(fixture('syntax.mjs'), 'export default { map ( {\n')
  await writeFile(fixture('bad-split.mjs'), 'export default { split () { return 42 } }\n')
  await writeFile(fixture('combine.mjs'), "export default { map (x, ctx) { if (x === 'throw') throw new Error('map boom'); return { [x]: ctx.taskIndex } }, combine (rs, ctx) { if (rs.some(r => 'bad' in r)) throw new Error('combine boom'); return { merged: Object.assign({}, ...rs), taskIndexes: ctx.taskIndexes } }, reduce (rs) { return rs } }\n")
})

afterEach(async () => {
  await Promise.all(pools.splice(0).map(async p => await p.close()))
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ExecutorPool: running job module operations', () => {
  it('runs split, map and reduce, passing ctx through', async () => {
    const pool = makePool()
    expect(value(await pool.run(req('split', null, 'behaviour.mjs', { parts: 3 })))).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    expect(value(await pool.run(req('map', { do: 'double', n: 21 })))).toBe(42)
    const ctx = { jobId: 'j1', taskIndex: 4, parts: 8, peerId: 'p', scratchDir: '/tmp/x' }
    expect(value(await pool.run(req('map', { do: 'ctx' }, 'behaviour.mjs', ctx)))).toEqual(ctx)
    expect(value(await pool.run(req('map', { do: 'async', n: 1 })))).toBe(2)
    expect(value(await pool.run(req('map', { do: 'undefined' })))).toBeNull()
    expect(value(await pool.run(req('reduce', [1, 2, 3])))).toBe(6)
    const ok = await pool.run(req('map', { do: 'double', n: 1 }))
    expect(ok.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('accepts named exports, async-iterable split, action modules and Buffer input', async () => {
    const pool = makePool()
    expect(value(await pool.run(req('map', 41, 'named.mjs')))).toBe(42)
    expect(value(await pool.run(req('split', 'abc', 'named.mjs')))).toEqual(['a', 'b', 'c'])
    expect(value(await pool.run(req('map', 1, 'action.mjs')))).toBeNull()
    expect(failure(await pool.run(req('map', 1, 'action-throws.mjs')))).toMatchObject({ kind: 'threw', error: 'action failed' })
    expect(value(await pool.run(req('split', Buffer.from('bytes in'), 'bytes.mjs')))).toEqual([true, 'bytes in'])
  })

  it('runs each child with the heap limit and the niceness (all threads)', async () => {
    const pool = makePool({ slots: 2, niceness: 19, memoryLimitMB: 200 })
    await waitFor(() => pool.stats().slotsReady === 2, 'two children ready')
    for (const pid of pool.stats().pids) {
      expect(os.getPriority(pid)).toBe(19)
      // Started under nice, so every thread inherits it (Linux niceness is per thread).
      await waitFor(() => readdirSync(`/proc/${pid}/task`).every(tid => niceOf(pid, tid) === 19), `all threads of ${pid} at nice 19`)
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--max-old-space-size=200')
    }
  })
})

function niceOf (pid: number, tid: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
  // Fields after the parenthesised command name; nice is field 19 overall, index 16 here.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

describe('ExecutorPool: failure kinds (and the pool stays usable)', () => {
  it('a task that throws → threw, with the message; the child is not restarted', async () => {
    const pool = makePool()
    const before = value(await pool.run(req('map', { do: 'pid' })))
    const out = failure(await pool.run(req('map', { do: 'throw', n: 7 })))
    expect(out).toMatchObject({ kind: 'threw', error: 'boom 7' })
    expect(out.stack).toContain('boom 7')
    expect(failure(await pool.run(req('map', { do: 'reject' })))).toMatchObject({ kind: 'threw', error: 'async boom' })
    expect(failure(await pool.run(req('map', { do: 'stray' })))).toMatchObject({ kind: 'threw', error: 'stray boom' })
    expect(value(await pool.run(req('map', { do: 'pid' })))).toBe(before)
    expect(pool.stats().restarts).toBe(0)
  })

  it('a task that never returns → timeout; the child is killed and replaced', async () => {
    const pool = makePool({ taskTimeoutMs: 1500 })
    const oldPid = value(await pool.run(req('map', { do: 'pid' }))) as number
    const out = failure(await pool.run(req('map', { do: 'hang' })))
    expect(out.kind).toBe('timeout')
    expect(out.durationMs).toBeGreaterThanOrEqual(1500)
    await waitFor(() => !alive(oldPid), 'the hung child to be gone')
    expect(failure(await pool.run(req('map', { do: 'hangAsync' }))).kind).toBe('timeout')
    const newPid = value(await pool.run(req('map', { do: 'pid' })))
    expect(newPid).not.toBe(oldPid)
    expect(pool.stats().restarts).toBe(2)
  })

  it('a task that calls process.exit → exited with the code; the child is replaced', async () => {
    const pool = makePool()
    const out = failure(await pool.run(req('map', { do: 'exit', code: 3 })))
    expect(out.kind).toBe('exited')
    expect(out.error).toContain('exit code 3')
    expect(value(await pool.run(req('map', { do: 'double', n: 2 })))).toBe(4)
    expect(pool.stats().restarts).toBe(1)
  })

  it('a task that allocates without bound → oom; the child is replaced', async () => {
    const pool = makePool({ memoryLimitMB: 64 })
    const out = failure(await pool.run(req('map', { do: 'oom' })))
    expect(out.kind).toBe('oom')
    expect(out.error).toMatch(/out of memory/i)
    expect(value(await pool.run(req('map', { do: 'double', n: 3 })))).toBe(6)
  })

  it('a result that is not JSON-serialisable → not-serialisable, with a clear message', async () => {
    const pool = makePool()
    const fn = failure(await pool.run(req('map', { do: 'fn' })))
    expect(fn.kind).toBe('not-serialisable')
    expect(fn.error).toBe('map() result is not JSON-serialisable: a function (property "f")')
    expect(failure(await pool.run(req('map', { do: 'bigint' })))).toMatchObject({ kind: 'not-serialisable', error: expect.stringContaining('BigInt') })
    expect(failure(await pool.run(req('map', { do: 'circular' })))).toMatchObject({ kind: 'not-serialisable', error: expect.stringMatching(/circular/i) })
    expect(failure(await pool.run(req('map', { do: 'map' })))).toMatchObject({ kind: 'not-serialisable', error: expect.stringContaining('a Map') })
    expect(value(await pool.run(req('map', { do: 'double', n: 4 })))).toBe(8)
    expect(pool.stats().restarts).toBe(0)
  })

  it('a module that fails to import or lacks the function → bad-module', async () => {
    const pool = makePool()
    const missing = failure(await pool.run(req('map', 1, 'does-not-exist.mjs')))
    expect(missing.kind).toBe('bad-module')
    expect(missing.error).toContain('does-not-exist.mjs')
    expect(failure(await pool.run(req('map', 1, 'syntax.mjs')))).toMatchObject({ kind: 'bad-module', error: expect.stringContaining('syntax.mjs') })
    expect(failure(await pool.run(req('map', 1, 'no-map.mjs')))).toMatchObject({ kind: 'bad-module', error: 'module has no map() function' })
    expect(failure(await pool.run(req('reduce', [], 'no-map.mjs')))).toMatchObject({ kind: 'bad-module', error: 'module has no reduce() function' })
    expect(failure(await pool.run(req('split', null, 'bad-split.mjs')))).toMatchObject({ kind: 'threw', error: expect.stringContaining('split() must return') })
    expect(value(await pool.run(req('map', { do: 'double', n: 5 })))).toBe(10)
  })
})

describe('ExecutorPool: pipelining', () => {
  it('runs a group of map tasks in one call: each with its own taskIndex and a ctx of its own, results in order', async () => {
    const pool = makePool({ slots: 2 })
    const ctx = { jobId: 'j1', taskIndex: 4, parts: 8 }
    const grouped = (group: Array<[number, unknown]>, first: unknown = { do: 'ctx' }) => ({ ...req('map', first, 'behaviour.mjs', ctx), group })
    expect(value(await pool.run(grouped([[5, { do: 'double', n: 5 }], [9, { do: 'ctx' }], [11, { do: 'async', n: 1 }]])))).toEqual([ctx, 10, { ...ctx, taskIndex: 9 }, 2])
    // Tiny groups stay matched to their ids like tiny tasks.
    const outs = await Promise.all(Array.from({ length: 200 }, async (_, i) => await pool.run(grouped([[1, { do: 'double', n: i }], [2, { do: 'undefined' }]], { do: 'double', n: 1000 + i }))))
    expect(outs.map(value)).toEqual(Array.from({ length: 200 }, (_, i) => [(1000 + i) * 2, i * 2, null]))
    // An action module's group: nulls.
    expect(value(await pool.run({ ...req('map', 1, 'action.mjs'), group: [[1, 2], [2, 3]] }))).toEqual([null, null, null])
  })

  it('fails a group at its first failing task, naming it; the child carries on', async () => {
    const pool = makePool()
    const ctx = { taskIndex: 0 }
    const grouped = (first: unknown, group: Array<[number, unknown]>) => ({ ...req('map', first, 'behaviour.mjs', ctx), group })
    expect(failure(await pool.run(grouped({ do: 'double', n: 1 }, [[1, { do: 'throw', n: 7 }], [2, { do: 'double', n: 2 }]])))).toMatchObject({ kind: 'threw', error: 'task 1: boom 7' })
    expect(failure(await pool.run(grouped({ do: 'throw', n: 3 }, [[1, { do: 'double', n: 1 }]])))).toMatchObject({ kind: 'threw', error: 'task 0: boom 3' })
    expect(failure(await pool.run(grouped({ do: 'double', n: 1 }, [[5, { do: 'fn' }]])))).toMatchObject({ kind: 'not-serialisable', error: expect.stringMatching(/^task 5: map\(\) result is not JSON-serialisable/) })
    expect(value(await pool.run(grouped({ do: 'double', n: 1 }, [[1, { do: 'double', n: 2 }]])))).toEqual([2, 4])
    expect(pool.stats()).toMatchObject({ restarts: 0 })
  })

  it('folds a group with the module\'s combine(): one result, marked combined; a failure names its task or combine()', async () => {
    const pool = makePool()
    const grouped = (first: unknown, group: Array<[number, unknown]>) => ({ ...req('map', first, 'combine.mjs', { taskIndex: 3 }), group, combine: true as const })
    const out = await pool.run(grouped('a', [[7, 'b'], [9, 'c']]))
    expect(out).toMatchObject({ ok: true, combined: true, value: { merged: { a: 3, b: 7, c: 9 }, taskIndexes: [3, 7, 9] } })
    expect(failure(await pool.run(grouped('a', [[7, 'throw']])))).toMatchObject({ kind: 'threw', error: 'task 7: map boom' })
    expect(failure(await pool.run(grouped('a', [[7, 'bad']])))).toMatchObject({ kind: 'threw', error: 'combine() over tasks 3, 7: combine boom' })
    // Without a group there is nothing to fold: the map's own result.
    const solo = await pool.run({ ...req('map', 'a', 'combine.mjs', { taskIndex: 3 }), combine: true as const })
    expect(solo).toMatchObject({ ok: true, value: { a: 3 } })
    expect(solo.ok && solo.combined).toBeFalsy()
    // A module without combine() asked to fold: a clear failure, not a silent unfolded list.
    expect(failure(await pool.run({ ...req('map', { do: 'double', n: 1 }, 'behaviour.mjs', { taskIndex: 0 }), group: [[1, { do: 'double', n: 2 }]], combine: true as const }))).toMatchObject({ kind: 'bad-module', error: 'module has no combine() function' })
  })

  it('matches 5,000 tiny tasks to their ids', async () => {
    const pool = makePool({ slots: 2 })
    const n = 5000
    const outs = await Promise.all(Array.from({ length: n }, async (_, i) => await pool.run(req('map', { do: 'double', n: i }))))
    expect(outs.map(value)).toEqual(Array.from({ length: n }, (_, i) => i * 2))
    expect(pool.stats()).toMatchObject({ running: 0, queued: 0, restarts: 0 })
  })

  it.each([
    ['exit', { do: 'exit', code: 9 }, 'exited'],
    ['hang', { do: 'hang' }, 'timeout'],
  ])('re-runs the tasks pipelined with a task that kills its child (%s), failing only that task', async (_name, bad, kind) => {
    const pool = makePool({ slots: 1, pipelineDepth: 4, taskTimeoutMs: 2000 })
    const chunks = [0, 1, 2, 'bad', 3, 4, 5, 6, 7].map(c => c === 'bad' ? bad : { do: 'double', n: c })
    const outs = await Promise.all(chunks.map(async c => await pool.run(req('map', c))))
    expect(outs.filter(o => !o.ok).map(o => !o.ok && o.kind)).toEqual([kind])
    expect(outs.filter(o => o.ok).map(value)).toEqual([0, 2, 4, 6, 8, 10, 12, 14])
    expect(value(await pool.run(req('map', { do: 'double', n: 50 })))).toBe(100)
  })

  it('gives every child a first task before any child a second', async () => {
    const pool = makePool({ slots: 2, pipelineDepth: 4 })
    await waitFor(() => pool.stats().slotsReady === 2, 'both children ready')
    const pids = await Promise.all([0, 1].map(async () => value(await pool.run(req('map', { do: 'sleepPid', ms: 300 })))))
    expect(new Set(pids).size).toBe(2)
  })

  it("sends a long task's result before the next pipelined task finishes", async () => {
    const pool = makePool({ slots: 1, pipelineDepth: 2 })
    await pool.run(req('map', { do: 'double', n: 0 })) // the job is known to run short tasks: its tasks are sent ahead
    const stillRunning: number[] = []
    const first = pool.run(req('map', { do: 'sleep', ms: 200 })).then(o => { stillRunning.push(pool.stats().running); return o })
    const second = pool.run(req('map', { do: 'sleep', ms: 1500 }))
    expect([value(await first), value(await second)]).toEqual(['slept', 'slept'])
    expect(stillRunning).toEqual([1])
  })

  it("a long job's tasks wait in the pool, not in the children, so another job's task goes to the next free child", async () => {
    const pool = makePool({ slots: 2, pipelineDepth: 4 })
    const order: string[] = []
    const run = (label: string, job: string, arg: unknown): Promise<TaskOutcome> =>
      pool.run(req('map', arg, 'behaviour.mjs', { jobId: job })).then(o => { order.push(label); return o })
    // Long enough that both children are surely still busy when b arrives, on a loaded machine too.
    const long = ['a1', 'a2', 'a3', 'a4'].map(l => run(l, 'A', { do: 'sleep', ms: 2000 }))
    await waitFor(() => pool.stats().running === 2, 'two long tasks running')
    expect(pool.stats().queued).toBe(2) // not sent ahead: job A's pace is unknown
    const short = run('b', 'B', { do: 'double', n: 2 })
    expect(value(await short)).toBe(4)
    expect((await Promise.all(long)).map(value)).toEqual(['slept', 'slept', 'slept', 'slept'])
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('a3'))
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('a4'))
  })

  it('a split or reduce does not wait for a busy slot: it runs on the control child', async () => {
    const pool = makePool({ slots: 1 })
    let longDone = false
    const longReq = req('map', { do: 'sleep', ms: 60_000 }, 'behaviour.mjs', { jobId: 'A' })
    const long = pool.run(longReq).then(o => { longDone = true; return o })
    await waitFor(() => pool.stats().running === 1, 'the long task running')
    const split = await pool.run(req('split', null, 'behaviour.mjs', { jobId: 'B', parts: 2 }))
    expect(value(split)).toEqual([{ n: 0 }, { n: 1 }])
    expect(longDone).toBe(false)
    expect(pool.stats().slotsTotal).toBe(1)
    expect(pool.stats().pids).toHaveLength(2)
    expect(pool.stats().spares).toBe(1) // idle again: kept, and stopped once it has idled spareIdleMs
    const reduce = await pool.run(req('reduce', [1, 2], 'behaviour.mjs', { jobId: 'B' }))
    expect(reduce.ok).toBe(true)
    expect(pool.spareReuses).toBe(1)
    expect(longDone).toBe(false)
    pool.abort(longReq.id)
    expect(failure(await long).kind).toBe('aborted')
  })

  it('refuses tasks beyond maxQueued', async () => {
    const pool = makePool({ maxQueued: 3 })
    const outs = await Promise.all(Array.from({ length: 5 }, async (_, i) => await pool.run(req('map', { do: 'double', n: i }))))
    expect(outs.slice(0, 3).map(value)).toEqual([0, 2, 4])
    expect(outs.slice(3)).toEqual([
      { ok: false, kind: 'aborted', error: 'executor queue full', durationMs: 0 },
      { ok: false, kind: 'aborted', error: 'executor queue full', durationMs: 0 },
    ])
  })
})

describe('ExecutorPool: abort, pause, close', () => {
  it('aborts a queued task without touching the child', async () => {
    const pool = makePool({ pipelineDepth: 1 })
    // Long enough that the poll below cannot miss the window on a loaded machine.
    const first = req('map', { do: 'sleep', ms: 3000 })
    const queued = req('map', { do: 'double', n: 1 })
    const running = pool.run(first)
    const aborted = pool.run(queued)
    await waitFor(() => pool.stats().running === 1 && pool.stats().queued === 1, 'one running, one queued')
    expect(pool.abort(queued.id)).toBe(true)
    expect(pool.abort(queued.id)).toBe(false)
    expect(pool.abort('no-such-task')).toBe(false)
    expect(failure(await aborted)).toMatchObject({ kind: 'aborted' })
    expect(value(await running)).toBe('slept')
    expect(pool.stats().restarts).toBe(0)
  })

  it('aborts a running task by replacing its child; its pipelined neighbours still finish', async () => {
    const pool = makePool({ pipelineDepth: 4 })
    await pool.run(req('map', { do: 'double', n: 0 })) // the job is known to run short tasks: its tasks are sent ahead
    const stuck = req('map', { do: 'sleep', ms: 600_000 })
    const outcome = pool.run(stuck)
    const others = [1, 2, 3].map(async n => await pool.run(req('map', { do: 'double', n })))
    await waitFor(() => pool.stats().running === 4, 'four tasks in flight')
    const pid = pool.stats().pids[0]!
    expect(pool.abort(stuck.id)).toBe(true)
    expect(failure(await outcome).kind).toBe('aborted')
    expect((await Promise.all(others)).map(value)).toEqual([2, 4, 6])
    await waitFor(() => !alive(pid), 'the old child to be gone')
    expect(pool.stats().restarts).toBe(1)
  })

  it('pause stops the children and resume continues them', async () => {
    const pool = makePool({ slots: 1 })
    // A first task makes sure the child is up (a child stopped while starting gets no tasks).
    expect(value(await pool.run(req('map', { do: 'double', n: 0 })))).toBe(0)
    pool.pause()
    const state = (pid: number): string => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2)[0]! }
    for (const pid of pool.stats().pids) await waitFor(() => state(pid) === 'T', `child ${pid} stopped`)
    let done = false
    const outcome = pool.run(req('map', { do: 'double', n: 6 })).then(o => { done = true; return o })
    await new Promise(resolve => setTimeout(resolve, 300))
    // The task waits in the pool, not in the stopped child (a give-back then costs no child).
    expect(pool.stats()).toMatchObject({ queued: 1, running: 0 })
    expect(done).toBe(false)
    pool.resume()
    expect(value(await outcome)).toBe(12)
  })

  it("paused, a job's split and reduce still run (on the control child), its map tasks wait", async () => {
    const pool = makePool({ slots: 1 })
    expect(value(await pool.run(req('map', { do: 'double', n: 0 })))).toBe(0)
    pool.pause()
    let mapDone = false
    const map = pool.run(req('map', { do: 'double', n: 4 })).then(o => { mapDone = true; return o })
    expect(value(await pool.run(req('split', null, 'behaviour.mjs', { parts: 2 })))).toEqual([{ n: 0 }, { n: 1 }])
    expect(value(await pool.run(req('reduce', [1, 2, 3])))).toBe(6)
    expect(mapDone).toBe(false)
    pool.resume()
    expect(value(await map)).toBe(8)
  })

  it('a split running when the pause comes finishes before its child is stopped', async () => {
    const pool = makePool({ slots: 1 })
    await writeFile(fixture('slow-split.mjs'), 'const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)\nexport default { split () { sleep(800); return [1] }, map (x) { return x } }\n')
    expect(value(await pool.run(req('map', { do: 'double', n: 0 })))).toBe(0)
    const split = pool.run(req('split', null, 'slow-split.mjs'))
    await waitFor(() => pool.stats().running === 1, 'the split running')
    pool.pause()
    expect(value(await split)).toEqual([1])
    const state = (pid: number): string => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2)[0]! }
    const pids = pool.stats().pids
    for (const pid of pids) await waitFor(() => { try { return state(pid) === 'T' } catch { return true } }, `child ${pid} stopped once the split is done`)
    pool.resume()
  })

  it('a child killed by SIGTERM (a stop signalling the whole group) is replaced only after a wait', async () => {
    const pool = makePool({ slots: 1 })
    expect(value(await pool.run(req('map', { do: 'double', n: 1 })))).toBe(2)
    const [pid] = pool.stats().pids
    process.kill(pid!, 'SIGTERM')
    await waitFor(() => pool.stats().restarts === 1, 'the death noticed')
    expect(pool.stats().pids).toEqual([]) // not at once: the daemon probably got the signal too
    await waitFor(() => pool.stats().pids.length === 1, 'a new child')
    expect(value(await pool.run(req('map', { do: 'double', n: 2 })))).toBe(4)
  })

  it('a retired pool (its node stopping) starts no child, even for one that died', async () => {
    const pool = makePool({ slots: 1 })
    expect(value(await pool.run(req('map', { do: 'double', n: 1 })))).toBe(2)
    const [pid] = pool.stats().pids
    pool.retire()
    process.kill(pid!, 'SIGKILL')
    await waitFor(() => pool.stats().restarts === 1, 'the death noticed')
    expect(pool.stats().pids).toEqual([])
    const late = pool.run(req('map', { do: 'double', n: 3 }))
    await pool.close()
    expect(failure(await late)).toMatchObject({ kind: 'aborted' })
  })

  it('close kills the children and resolves pending runs as aborted', async () => {
    const pool = makePool({ slots: 2 })
    const pending = [pool.run(req('map', { do: 'sleep', ms: 600_000 })), pool.run(req('map', { do: 'hangAsync' })), pool.run(req('map', { do: 'double', n: 1 }))]
    await waitFor(() => pool.stats().running >= 2, 'tasks in flight')
    const pids = pool.stats().pids
    await pool.close()
    for (const o of await Promise.all(pending)) {
      // The quick task may have finished before close.
      if (!o.ok) expect(o.kind).toBe('aborted')
    }
    expect(failure(await pending[0]!).kind).toBe('aborted')
    for (const pid of pids) expect(alive(pid)).toBe(false)
    expect(failure(await pool.run(req('map', 1)))).toMatchObject({ kind: 'aborted', error: 'executor pool closed' })
  })
})
