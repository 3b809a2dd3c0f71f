// The worker's side of a task, with a recording pool: which scratch dir and which sandbox grant
// (workspace) each task, split-side prepare included, asks its executor for.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import type { ExecutorPool, TaskOutcome, TaskRequest } from '../../src/node/executor/executor-pool.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import type { CodeCache } from '../../src/node/daemon/code-cache.js'
import { TaskWorker } from '../../src/node/daemon/task-worker.js'

const root = mkdtempSync(path.join(os.tmpdir(), 'meshwork-worker-'))
afterAll(() => { rmSync(root, { recursive: true, force: true }) })

const HASH_A = 'a'.repeat(64)
const HASH_B = 'b'.repeat(64)

function makeWorker (outcome: () => Promise<TaskOutcome> = async () => ({ ok: true, value: 1, durationMs: 0 })): { worker: TaskWorker, runs: TaskRequest[], prepared: Array<Parameters<ExecutorPool['prepare']>[0]>, sent: RpcMessage[] } {
  const runs: TaskRequest[] = []
  const prepared: Array<Parameters<ExecutorPool['prepare']>[0]> = []
  const sent: RpcMessage[] = []
  const pool = {
    run: async (req: TaskRequest): Promise<TaskOutcome> => { runs.push(req); return await outcome() },
    prepare: (req: Parameters<ExecutorPool['prepare']>[0]) => { prepared.push(req) },
    abort: () => false,
  } as unknown as ExecutorPool
  const code = { has: () => true, pathFor: (hash: string) => `/code/${hash}.mjs` } as unknown as CodeCache
  const log = { info () {}, warn () {}, error () {}, debug () {} } as never
  const worker = new TaskWorker({ selfId: 'self', pool, code, scratchDir: path.join(root, 'scratch'), log, send: (_to, m) => { sent.push(m) }, onLoadChange: () => {} })
  return { worker, runs, prepared, sent }
}

function assign (jobId: string, codeHash: string, taskIndex = 0): Extract<RpcMessage, { t: 'task.assign' }> {
  return { t: 'task.assign', jobId, taskIndex, attemptId: `${jobId}:${taskIndex}:1`, term: 1, codeHash, kind: 'function', parts: 1, chunk: taskIndex }
}

describe('scratch dirs and workspaces', () => {
  it("jobs of the same code share a workspace (one sandbox profile), each with its own scratch dir inside it; other code gets another", async () => {
    const { worker, runs, prepared } = makeWorker()
    worker.onPrepare({ jobId: 'job-3', codeHash: HASH_A })
    worker.onAssign('coord', assign('job-1', HASH_A))
    worker.onAssign('coord', assign('job-2', HASH_A))
    worker.onAssign('coord', assign('job-4', HASH_B))
    const [one, two, other] = runs as [TaskRequest, TaskRequest, TaskRequest]
    const workspaceA = path.join(root, 'scratch', HASH_A)
    expect(one.workspaceDir).toBe(workspaceA)
    expect(two.workspaceDir).toBe(workspaceA)
    expect(prepared[0]?.workspaceDir).toBe(workspaceA)
    expect(other.workspaceDir).toBe(path.join(root, 'scratch', HASH_B))
    expect(one.ctx.scratchDir).toBe(path.join(workspaceA, 'job-1'))
    expect(two.ctx.scratchDir).toBe(path.join(workspaceA, 'job-2'))
    expect(prepared[0]?.ctx.scratchDir).toBe(path.join(workspaceA, 'job-3'))
    for (const r of runs) expect(existsSync(r.ctx.scratchDir as string)).toBe(true)
  })

  it('remembers when a task last used a job\'s scratch dir, and makes it again once the sweeper removed it', () => {
    const { worker, runs } = makeWorker()
    expect(worker.scratchLastUsedMs(HASH_A, 'job-9')).toBeUndefined()
    const before = Date.now()
    worker.onAssign('coord', assign('job-9', HASH_A, 0))
    expect(worker.scratchLastUsedMs(HASH_A, 'job-9')).toBeGreaterThanOrEqual(before)
    const dir = runs[0]?.ctx.scratchDir as string
    rmSync(dir, { recursive: true })
    worker.forgetScratchDir(HASH_A, 'job-9')
    worker.onAssign('coord', assign('job-9', HASH_A, 1))
    expect(existsSync(dir)).toBe(true)
  })

  it('counts a job\'s dir as in use while one of its tasks runs, however long ago it started', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(1_000_000)
      const { worker } = makeWorker(async () => await new Promise<TaskOutcome>(() => {}))
      worker.onAssign('coord', assign('job-10', HASH_A, 0))
      vi.setSystemTime(1_000_000 + 30 * 24 * 3_600_000)
      expect(worker.scratchLastUsedMs(HASH_A, 'job-10')).toBe(1_000_000 + 30 * 24 * 3_600_000)
      expect(worker.scratchLastUsedMs(HASH_A, 'job-11')).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('group attempts', () => {
  /** A pool whose tasks end when the test says; an abort ends a pending one as the real pool does. */
  function controlledWorker () {
    const pending = new Map<string, { req: TaskRequest, resolve: (o: TaskOutcome) => void }>()
    const aborted: string[] = []
    const sent: RpcMessage[] = []
    const pool = {
      run: async (req: TaskRequest): Promise<TaskOutcome> => await new Promise<TaskOutcome>(resolve => { pending.set(req.id, { req, resolve }) }),
      prepare: () => {},
      abort: (id: string) => {
        const p = pending.get(id)
        if (p === undefined) return false
        aborted.push(id)
        pending.delete(id)
        p.resolve({ ok: false, kind: 'aborted', error: 'aborted', durationMs: 0 })
        return true
      },
    } as unknown as ExecutorPool
    const code = { has: () => true, pathFor: (hash: string) => `/code/${hash}.mjs` } as unknown as CodeCache
    const log = { info () {}, warn () {}, error () {}, debug () {} } as never
    const worker = new TaskWorker({ selfId: 'self', pool, code, scratchDir: path.join(root, 'scratch'), log, send: (_to, m) => { sent.push(m) }, onLoadChange: () => {} })
    const end = async (id: string, outcome: TaskOutcome): Promise<void> => {
      const p = pending.get(id)
      if (p === undefined) throw new Error(`${id} is not running`)
      pending.delete(id)
      p.resolve(outcome)
      for (let i = 0; i < 5; i++) await Promise.resolve()
    }
    return { worker, pending, aborted, sent, end }
  }
  const group = (kind: 'function' | 'action' = 'function'): Extract<RpcMessage, { t: 'task.assign' }> =>
    ({ ...assign('job-g', HASH_A, 3), kind, group: [[7, 'seven'], [9, 'nine']] })

  it('runs in one executor call that carries the group, and answers once with each task\'s result', async () => {
    const h = controlledWorker()
    h.worker.onAssign('coord', group())
    expect([...h.pending.values()].map(p => [p.req.id, p.req.ctx.taskIndex, p.req.arg, p.req.group])).toEqual([['job-g:3:1', 3, 3, [[7, 'seven'], [9, 'nine']]]])
    expect(h.worker.runningTasks).toBe(1)
    await h.end('job-g:3:1', { ok: true, value: ['r3', 'r7', 'r9'], durationMs: 1.75 })
    expect(h.sent).toEqual([{ t: 'task.ok', jobId: 'job-g', taskIndex: 3, attemptId: 'job-g:3:1', value: 'r3', ms: 1.75, group: [[7, 'r7'], [9, 'r9']] }])
    expect(h.worker.runningTasks).toBe(0)
    expect(h.worker.tasksRun).toBe(3)
  })

  it('answers an action job\'s group with nulls', async () => {
    const h = controlledWorker()
    h.worker.onAssign('coord', group('action'))
    await h.end('job-g:3:1', { ok: true, value: [{ w: 1 }, { w: 2 }, { w: 3 }], durationMs: 0 })
    expect(h.sent).toMatchObject([{ t: 'task.ok', value: null, group: [[7, null], [9, null]] }])
  })

  it('fails as a whole, with the executor\'s failure', async () => {
    const h = controlledWorker()
    h.worker.onAssign('coord', group())
    await h.end('job-g:3:1', { ok: false, kind: 'threw', error: 'task 9: Error: nine', durationMs: 0.1 })
    expect(h.sent).toEqual([{ t: 'task.failed', jobId: 'job-g', taskIndex: 3, attemptId: 'job-g:3:1', kind: 'threw', error: 'task 9: Error: nine' }])
  })

  it('refuses an executor answer that is not one result per task', async () => {
    const h = controlledWorker()
    h.worker.onAssign('coord', group())
    await h.end('job-g:3:1', { ok: true, value: ['r3', 'r7'], durationMs: 0.1 })
    expect(h.sent).toMatchObject([{ t: 'task.failed', attemptId: 'job-g:3:1', kind: 'internal', error: 'the executor answered a group of 3 tasks with 2 results' }])
  })

  it('is aborted, or handed back, as one', async () => {
    const h = controlledWorker()
    h.worker.onAssign('coord', group())
    h.worker.onAbort('someone-else', 'job-g:3:1')
    expect(h.aborted).toEqual([])
    h.worker.onAbort('coord', 'job-g:3:1')
    expect(h.aborted).toEqual(['job-g:3:1'])
    const g = controlledWorker()
    g.worker.onAssign('coord', group())
    expect(g.worker.giveBack()).toBe(1)
    for (let i = 0; i < 5; i++) await Promise.resolve()
    expect(g.sent).toMatchObject([{ t: 'task.failed', attemptId: 'job-g:3:1', kind: 'returned' }])
  })
})
