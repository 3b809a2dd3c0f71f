// Executors in a box, tested on the real pool with real child processes under Node's permission
// model (the compiled child entry under dist/ must exist: `npx tsc -p tsconfig.json`).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ExecutorPool, type ExecutorPoolOptions, type TaskOutcome } from '../../src/node/executor/executor-pool.js'
import { describeDenial, permissionFlag, sandboxFor } from '../../src/node/executor/sandbox.js'
import { waitFor } from '../helpers/wait.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const childEntry = path.join(repoRoot, 'dist/src/node/executor/executor-child.js')

const ESCAPE = `
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync, execSync } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { homedir } from 'node:os'
import { join } from 'node:path'
export default {
  split (input) { return [input] },
  map (chunk, ctx) {
    switch (chunk.do) {
      case 'ssh': return readdirSync(join(chunk.home, '.ssh'))
      case 'env': return { ...process.env }
      case 'home': return homedir()
      case 'passwd': return readFileSync('/etc/passwd', 'utf8').length
      case 'write-scratch': writeFileSync(join(ctx.scratchDir, 'out.txt'), 'ok'); return readFileSync(join(ctx.scratchDir, 'out.txt'), 'utf8')
      case 'write-outside': writeFileSync(chunk.path, 'escaped'); return 'wrote'
      case 'spawn': return spawnSync(chunk.cmd ?? 'true').status
      case 'shell': return execSync('true').length
      case 'worker': new Worker('1', { eval: true }); return 'worker'
      case 'addon': process.dlopen({ exports: {} }, '/nonexistent/addon.node'); return 'loaded'
      case 'binding': return typeof process.binding('fs')
      case 'spin': { const end = Date.now() + chunk.ms; let x = 0; while (Date.now() < end) x++; return x > 0 }
      case 'big': return 'x'.repeat(chunk.bytes)
      default: return 'plain'
    }
  },
  reduce (r) { return r },
}
`

let dir: string
let scratch: string
let outside: string
const pools: ExecutorPool[] = []
let seq = 0

function makePool (opts: Partial<ExecutorPoolOptions> = {}): ExecutorPool {
  const pool = new ExecutorPool({ slots: 1, childEntry, niceness: 0, taskTimeoutMs: 60_000, sandbox: { allowExec: [], fsRead: [], fsWrite: [] }, ...opts })
  pools.push(pool)
  return pool
}

async function map (pool: ExecutorPool, chunk: unknown, tools?: string[]): Promise<TaskOutcome> {
  return await pool.run({ id: `s${++seq}`, op: 'map', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: chunk, ctx: { scratchDir: scratch }, ...(tools !== undefined ? { tools } : {}) })
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshwork-sandbox-'))
  scratch = path.join(dir, 'scratch', 'job1')
  outside = path.join(dir, 'outside.txt')
  mkdirSync(scratch, { recursive: true })
  writeFileSync(path.join(dir, 'escape.mjs'), ESCAPE)
})
afterEach(async () => { await Promise.all(pools.splice(0).map(async p => await p.close())) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('this Node has a permission model', () => {
  it('Node 20 offers --experimental-permission (Node 22 --permission)', () => {
    expect(permissionFlag()).toMatch(/^--(experimental-)?permission$/)
  })
})

describe('a sandboxed task', () => {
  it('runs, and may write and read its own scratch dir', async () => {
    const pool = makePool()
    expect(await map(pool, { do: 'plain' })).toMatchObject({ ok: true, value: 'plain' })
    expect(await map(pool, { do: 'write-scratch' })).toMatchObject({ ok: true, value: 'ok' })
  })

  it('may not read ~/.ssh or /etc/passwd: denied, naming FileSystemRead', async () => {
    const pool = makePool()
    const ssh = await map(pool, { do: 'ssh', home: os.homedir() })
    expect(ssh).toMatchObject({ ok: false, kind: 'denied' })
    expect(!ssh.ok && ssh.error).toMatch(new RegExp(`permission denied: FileSystemRead of ${os.homedir()}/\\.ssh`))
    const passwd = await map(pool, { do: 'passwd' })
    expect(!passwd.ok && passwd.error).toMatch(/permission denied: FileSystemRead of \/etc\/passwd/)
  })

  it('may not write outside its scratch dir: denied, naming FileSystemWrite', async () => {
    const pool = makePool()
    const out = await map(pool, { do: 'write-outside', path: outside })
    expect(out).toMatchObject({ ok: false, kind: 'denied' })
    expect(!out.ok && out.error).toMatch(/permission denied: FileSystemWrite of .*outside\.txt/)
    expect(existsSync(outside)).toBe(false)
  })

  it('may not start a process or a worker thread, load an addon or reach process.binding: denied, naming the permission', async () => {
    const pool = makePool()
    const spawn = await map(pool, { do: 'spawn' })
    expect(spawn).toMatchObject({ ok: false, kind: 'denied' })
    expect(!spawn.ok && spawn.error).toMatch(/permission denied: ChildProcess .*--allow-exec/)
    const worker = await map(pool, { do: 'worker' })
    expect(!worker.ok && worker.error).toMatch(/permission denied: WorkerThreads/)
    const addon = await map(pool, { do: 'addon' })
    expect(!addon.ok && addon.error).toMatch(/permission denied: native addons cannot be loaded/)
    const binding = await map(pool, { do: 'binding' })
    expect(binding).toMatchObject({ ok: false, kind: 'denied' })
    expect(!binding.ok && binding.error).toMatch(/permission denied: process.binding \(internal Node APIs are closed to task code\)/)
  })

  it('a job declaring a tool the node does not allow is refused before its code runs, naming --allow-exec', async () => {
    const pool = makePool()
    const out = await map(pool, { do: 'spawn' }, ['cc'])
    expect(out).toMatchObject({ ok: false, kind: 'denied' })
    expect(!out.ok && out.error).toMatch(/requires cc, which this node does not allow to run \(start it with --allow-exec cc\)/)
  })

  it('a declared and allowed tool runs; anything else, a path or a shell stays denied', async () => {
    const pool = makePool({ sandbox: { allowExec: ['true', 'cc'], fsRead: [], fsWrite: [] } })
    expect(await map(pool, { do: 'spawn', cmd: 'true' }, ['true'])).toMatchObject({ ok: true, value: 0 })
    const other = await map(pool, { do: 'spawn', cmd: 'ls' }, ['true'])
    expect(!other.ok && other.error).toMatch(/permission denied: ChildProcess of ls \(the job may start only true/)
    const path = await map(pool, { do: 'spawn', cmd: '/bin/true' }, ['true'])
    expect(!path.ok && path.kind).toBe('denied')
    const shell = await map(pool, { do: 'shell' }, ['true'])
    expect(!shell.ok && shell.error).toMatch(/execSync\(\) runs a shell/)
  })

  it('the operator may widen file access with fsWrite', async () => {
    const target = path.join(dir, 'shared')
    mkdirSync(target, { recursive: true })
    const pool = makePool({ sandbox: { allowExec: [], fsRead: [], fsWrite: [target] } })
    expect(await map(pool, { do: 'write-outside', path: path.join(target, 'x.txt') })).toMatchObject({ ok: true, value: 'wrote' })
  })

  it('tasks of two jobs get executors with their own scratch dirs (the pool switches profiles)', async () => {
    const pool = makePool()
    const other = path.join(dir, 'scratch', 'job2')
    mkdirSync(other, { recursive: true })
    const a = await map(pool, { do: 'write-scratch' })
    const b = await pool.run({ id: `s${++seq}`, op: 'map', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: { do: 'write-outside', path: path.join(scratch, 'from-job2.txt') }, ctx: { scratchDir: other } })
    expect(a).toMatchObject({ ok: true })
    expect(b).toMatchObject({ ok: false, kind: 'denied' })
    expect(pool.profileSwitches).toBeGreaterThanOrEqual(1)
  })
})

describe('per-task limits', () => {
  it('a task over its CPU-time limit is killed and failed as cpu-limit', async () => {
    const pool = makePool({ taskCpuMsMax: 300 })
    const out = await map(pool, { do: 'spin', ms: 60_000 })
    expect(out).toMatchObject({ ok: false, kind: 'cpu-limit' })
    expect(!out.ok && out.error).toMatch(/more than 300 ms of CPU time/)
    expect(await map(pool, { do: 'plain' })).toMatchObject({ ok: true })
  })

  it('a result over the size limit fails as too-large', async () => {
    const pool = makePool({ resultBytesMax: 1000 })
    const out = await map(pool, { do: 'big', bytes: 5000 })
    expect(out).toMatchObject({ ok: false, kind: 'too-large' })
    expect(!out.ok && out.error).toMatch(/exceeds the node's limit of 1000 bytes/)
    expect(await map(pool, { do: 'big', bytes: 10 })).toMatchObject({ ok: true })
  })

  it("split() is held to the message limit, not the per-result one: a job's input cut into chunks", async () => {
    const pool = makePool({ resultBytesMax: 1000, splitBytesMax: 8000 })
    const split = async (bytes: number): Promise<TaskOutcome> => await pool.run({ id: `s${++seq}`, op: 'split', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: 'y'.repeat(bytes), ctx: { scratchDir: scratch } })
    expect(await split(5000)).toMatchObject({ ok: true })
    const over = await split(9000)
    expect(over).toMatchObject({ ok: false, kind: 'too-large' })
    expect(!over.ok && over.error).toMatch(/split\(\) result of 9004 bytes exceeds the node's limit of 8000 bytes \(--max-message-bytes\)/)
    expect(await map(pool, { do: 'big', bytes: 5000 })).toMatchObject({ ok: false, kind: 'too-large' })
  })
})

describe('sandboxFor and describeDenial', () => {
  it('refuses invalid tool names and explains permission errors', () => {
    const policy = { allowExec: ['cc'], fsRead: [], fsWrite: [] }
    expect(sandboxFor(policy, { childEntry, modulePath: '/x.mjs', tools: ['../cc'] })).toMatchObject({ ok: false })
    const ok = sandboxFor(policy, { childEntry, modulePath: '/x.mjs', scratchDir: '/s', tools: ['cc'] })
    expect(ok.ok && ok.sandbox.fsWrite).toEqual(['/s'])
    expect(describeDenial(new Error('x'))).toBeUndefined()
    expect(describeDenial(Object.assign(new Error('x'), { code: 'ERR_ACCESS_DENIED', permission: 'FileSystemRead', resource: '/a' }))).toMatch(/FileSystemRead of \/a/)
  })
})

describe('preparing executors for a job', () => {
  it('starts idle children for the job before its tasks, so they need no profile switch', async () => {
    const pool = makePool({ slots: 2 })
    const job2 = path.join(dir, 'scratch', 'job2')
    mkdirSync(job2, { recursive: true })
    const run = async (scratchDir: string): Promise<TaskOutcome> =>
      await pool.run({ id: `s${++seq}`, op: 'map', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: { do: 'nothing' }, ctx: { scratchDir } })
    expect((await run(scratch)).ok).toBe(true)
    await waitForReady(pool, 2)
    const switches = pool.profileSwitches
    pool.prepare({ modulePath: path.join(dir, 'escape.mjs'), ctx: { scratchDir: job2 } })
    expect(pool.profileSwitches).toBe(switches + 2)
    await waitForReady(pool, 2)
    const outs = await Promise.all([run(job2), run(job2)])
    expect(outs.every(o => o.ok)).toBe(true)
    expect(pool.profileSwitches).toBe(switches + 2)
    // Preparing for the profile the children already have changes nothing.
    pool.prepare({ modulePath: path.join(dir, 'escape.mjs'), ctx: { scratchDir: job2 } })
    expect(pool.profileSwitches).toBe(switches + 2)
  })

  it("another job's task is not overtaken by the tasks that keep coming for the children's job", async () => {
    const pool = makePool({ slots: 1, pipelineDepth: 4 })
    const other = path.join(dir, 'scratch', 'job4')
    mkdirSync(other, { recursive: true })
    const order: string[] = []
    const run = (label: string, scratchDir: string): Promise<TaskOutcome> =>
      pool.run({ id: `s${++seq}`, op: 'map', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: { do: 'nothing' }, ctx: { scratchDir } })
        .then(o => { order.push(label); return o })
    const runs = [...['a1', 'a2', 'a3', 'a4'].map(l => run(l, scratch)), run('b', other), ...['a5', 'a6'].map(l => run(l, scratch))]
    expect((await Promise.all(runs)).every(o => o.ok)).toBe(true)
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('a5'))
  })

  it('replaces no child while tasks wait or run', async () => {
    const pool = makePool({ slots: 1 })
    const running = map(pool, { do: 'nothing' })
    pool.prepare({ modulePath: path.join(dir, 'escape.mjs'), ctx: { scratchDir: path.join(dir, 'scratch', 'job3') } })
    expect(pool.profileSwitches).toBe(0)
    expect((await running).ok).toBe(true)
  })
})

describe("a code's workspace", () => {
  it('a task may write its workspace (the scratch dirs of jobs of its code) and nothing beside it', async () => {
    const pool = makePool()
    const workspaceDir = path.join(dir, 'workspace-a')
    const job1 = path.join(workspaceDir, 'job1')
    const job2 = path.join(workspaceDir, 'job2')
    for (const d of [job1, job2]) mkdirSync(d, { recursive: true })
    const run = async (chunk: unknown): Promise<TaskOutcome> =>
      await pool.run({ id: `s${++seq}`, op: 'map', modulePath: path.join(dir, 'escape.mjs'), codeHash: 'escape', arg: chunk, ctx: { scratchDir: job1 }, workspaceDir })
    expect(await run({ do: 'write-scratch' })).toMatchObject({ ok: true, value: 'ok' })
    expect(await run({ do: 'write-outside', path: path.join(job2, 'sibling.txt') })).toMatchObject({ ok: true })
    expect(await run({ do: 'write-outside', path: path.join(dir, 'workspace-b.txt') })).toMatchObject({ ok: false, kind: 'denied' })
  })
})

describe('idle children kept for their profile', () => {
  const modulePath = (): string => path.join(dir, 'escape.mjs')
  const workspace = (name: string): string => { const d = path.join(dir, 'ws', name); mkdirSync(d, { recursive: true }); return d }
  const runIn = async (pool: ExecutorPool, workspaceDir: string): Promise<TaskOutcome> =>
    await pool.run({ id: `s${++seq}`, op: 'map', modulePath: modulePath(), codeHash: 'escape', arg: { do: 'nothing' }, ctx: { scratchDir: workspaceDir }, workspaceDir })
  const childPid = (pool: ExecutorPool): number => pool.stats().pids[0] as number
  /** Runs a task in `a`, then one in `b` (which replaces a's child); returns the pid of a's child. */
  const runAThenB = async (pool: ExecutorPool, a: string, b: string): Promise<number> => {
    expect((await runIn(pool, a)).ok).toBe(true)
    const pidA = childPid(pool)
    expect((await runIn(pool, b)).ok).toBe(true)
    return pidA
  }

  it('a child replaced for another profile is kept, and serves its profile again without a new process', async () => {
    const pool = makePool()
    const [a, b] = [workspace('keep-a'), workspace('keep-b')]
    const pidA = await runAThenB(pool, a, b)
    const pidB = childPid(pool)
    expect(pidB).not.toBe(pidA)
    expect(pool.stats().spares).toBe(1)
    expect((await runIn(pool, a)).ok).toBe(true)
    expect(childPid(pool)).toBe(pidA)
    expect(pool.spareReuses).toBe(1)
    expect(pool.stats().pids).toEqual([pidA, pidB])
  })

  it('beyond sparesMax the oldest kept child is stopped; with 0 none is kept', async () => {
    const pool = makePool({ sparesMax: 1 })
    const [a, b, c] = [workspace('max-a'), workspace('max-b'), workspace('max-c')]
    const pidA = await runAThenB(pool, a, b)
    expect((await runIn(pool, c)).ok).toBe(true)
    expect(pool.stats().spares).toBe(1)
    await waitForGone(pidA)
    expect((await runIn(pool, a)).ok).toBe(true)
    expect(pool.spareReuses).toBe(0)

    const none = makePool({ sparesMax: 0 })
    const first = await runAThenB(none, a, b)
    expect(none.stats().spares).toBe(0)
    await waitForGone(first)
  })

  it('a kept child is stopped after spareIdleMs, and at once when the pool pauses for the owner', async () => {
    const pool = makePool({ spareIdleMs: 300 })
    const [a, b] = [workspace('idle-a'), workspace('idle-b')]
    const pidA = await runAThenB(pool, a, b)
    expect(pool.stats().spares).toBe(1)
    await waitForGone(pidA)
    expect(pool.stats().spares).toBe(0)

    const paused = makePool()
    const pidPaused = await runAThenB(paused, a, b)
    paused.pause()
    expect(paused.stats().spares).toBe(0)
    await waitForGone(pidPaused)
    paused.resume()
    expect((await runIn(paused, a)).ok).toBe(true)
  })

  it('a kept child that dies is forgotten, and its profile gets a new child', async () => {
    const pool = makePool()
    const [a, b] = [workspace('dies-a'), workspace('dies-b')]
    const pidA = await runAThenB(pool, a, b)
    process.kill(pidA, 'SIGKILL')
    await waitFor('the dead spare to be forgotten', () => pool.stats().spares === 0, 30_000, 10)
    expect((await runIn(pool, a)).ok).toBe(true)
    expect(childPid(pool)).not.toBe(pidA)
    expect(pool.spareReuses).toBe(0)
  })
})

async function waitForGone (pid: number): Promise<void> {
  await waitFor(`process ${pid} to exit`, () => { try { process.kill(pid, 0); return false } catch { return true } }, 30_000, 10)
}

async function waitForReady (pool: ExecutorPool, n: number): Promise<void> {
  await waitFor(`${n} ready children`, () => pool.stats().slotsReady >= n, 30_000, 10)
}
