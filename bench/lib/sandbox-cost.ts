import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { ExecutorPool, type ExecutorPoolOptions, type TaskOutcome, type TaskRequest } from '../../src/node/executor/executor-pool.js'
import { defaultChildEntry } from '../../src/node/executor/executor-process.js'
import { sandboxFor, type SandboxPolicy } from '../../src/node/executor/sandbox.js'
import { BWRAP, bwrapArgs, probeBwrap } from '../../src/node/executor/bwrap.js'
import { MemoryCaps } from '../../src/node/executor/memory-cap.js'
import { treeUsage } from '../../src/node/executor/process-tree.js'
import { median } from '../stats.js'
import { startMeshwork } from '../systems/meshwork.js'
import { onCleanup } from './procs.js'

// The cost of the task sandbox (issue 21): every executor runs under bubblewrap (namespaces, a
// root of read-only binds) with Node's permission model inside, behind the memory-cap shell and
// nice/ionice. Measured through the public ExecutorPool API, in the same process, configurations
// interleaved (one start or one run of each in turn, the order rotated) so that other load on the
// machine falls on all of them alike:
//
//  - start time: a new pool of 1 slot, constructor → the first empty task's outcome (spawn, the
//    wrappers, Node's start, the executor's 'ready', loading the job module, one task);
//  - empty-task throughput: a pool of 2 slots, warmed up, N empty tasks submitted at once;
//  - optionally a 3-node mesh (`meshwork start --sandbox bwrap` vs `--sandbox none`): an
//    empty-task job of warm code, and a short job of code the mesh has not run yet (with the
//    sandbox, executors are started per code: that job pays for their start).

export type SandboxConfigId = 'none' | 'permission' | 'bwrap' | 'bare'

export interface SandboxConfig {
  id: SandboxConfigId
  label: string
  sandbox: SandboxPolicy | undefined
  memoryCap: NonNullable<ExecutorPoolOptions['memoryCap']>
}

/** The reference (no sandbox) first: every ratio is against it. */
export const SANDBOX_CONFIGS: readonly SandboxConfig[] = [
  { id: 'none', label: 'no sandbox (`sandbox` undefined)', sandbox: undefined, memoryCap: 'auto' },
  { id: 'permission', label: "Node permission model only (`mode: 'none'`)", sandbox: { mode: 'none', allowNetwork: false, allowExec: [], fsRead: [], fsWrite: [] }, memoryCap: 'auto' },
  { id: 'bwrap', label: "**bubblewrap + permission model** (`mode: 'bwrap'`, what `meshwork start` runs)", sandbox: { mode: 'bwrap', allowNetwork: false, allowExec: [], fsRead: [], fsWrite: [] }, memoryCap: 'auto' },
  { id: 'bare', label: 'reference: no sandbox and no memory-cap shell (`memoryCap: \'off\'`)', sandbox: undefined, memoryCap: 'off' },
]

export interface SandboxCostOptions {
  /** Where the job module and its scratch dir go. */
  workDir: string
  /** The package root (bench/jobs/empty.mjs). */
  root: string
  /** Executor starts per configuration (default 20). */
  starts: number
  /** Empty tasks per throughput run (default 20 000). */
  tasks: number
  /** Timed throughput runs per configuration (default 5). */
  runs: number
  slots: number
  /** Executors' niceness (a node uses 19; see the report). */
  niceness: number
  /** The 3-node mesh comparison; off: not measured. */
  mesh?: { nodes: number, tasks: number, runs: number, shortTasks: number }
  /** Settings for every executor's environment (the benchmark's run marker). */
  env: Record<string, string>
  log: (msg: string) => void
  quick: boolean
  command: string
}

export interface SandboxFigures {
  command: string
  quick: boolean
  date: string
  cores: number
  loadAvgBefore: number[]
  loadAvgAfter: number[]
  bwrap: string
  memoryCap: string
  niceness: number
  slots: number
  starts: number
  tasks: number
  runs: number
  totalS: number
  /** Per configuration: each start's ms. */
  startMs: Partial<Record<SandboxConfigId, number[]>>
  /** Per configuration: each timed run's tasks/s. */
  tps: Partial<Record<SandboxConfigId, number[]>>
  /**
   * Per configuration: CPU time per task of each timed run, in µs — this process (the pool, as in
   * a daemon) plus the executors' processes (/proc, 10 ms ticks). Unlike the rate, other load on
   * the machine hardly moves it.
   */
  cpuUsPerTask: Partial<Record<SandboxConfigId, number[]>>
  /** Per configuration: ms of each short job (newCodeTasks empty tasks) of code the warm pool had not run. */
  newCodeMs: Partial<Record<SandboxConfigId, number[]>>
  newCodeTasks: number
  /** Bare processes, spawn → exit: `node -e 0` and the same inside bwrap (bwrap's own share of a start). */
  processMs: { node?: number[], bwrapNode?: number[] }
  /** Per configuration: one executor's processes, checked on its first (untimed) start, e.g. "bwrap → bwrap → node --experimental-permission". */
  tree: Partial<Record<SandboxConfigId, string>>
  /** The configurations that could not be measured, and why. */
  skipped: Partial<Record<SandboxConfigId, string>>
  mesh?: {
    nodes: number
    tasks: number
    shortTasks: number
    runs: number
    /** Per `--sandbox` mode: tasks/s of each timed empty-task job (client wall). */
    tps: Partial<Record<'bwrap' | 'none', number[]>>
    /** The same jobs' tasks/s measured by the node (job received → reduced). */
    nodeTps?: Partial<Record<'bwrap' | 'none', number[]>>
    /** Per mode: client wall ms of each short job of new code. */
    newCodeMs: Partial<Record<'bwrap' | 'none', number[]>>
    error?: string
  }
}

/** Untimed rounds of throughput runs before the timed ones. */
const WARM_ROUNDS = 2
/** Tasks of the short job of new code. */
const NEW_CODE_TASKS = 32

const EMPTY_TASK = (modulePath: string, scratchDir: string, id: string): TaskRequest =>
  ({ id, op: 'map', modulePath, codeHash: 'bench-empty', arg: 0, ctx: { scratchDir, jobId: 'bench-sandbox' } })

function expectOk (out: TaskOutcome, what: string): void {
  if (!out.ok) throw new Error(`${what}: task failed (${out.kind}): ${out.error}`)
}

/** Rotates `xs` by `k` (so that no configuration is always measured first). */
const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length] as T)

/**
 * The executor's processes as "bwrap → bwrap → node --experimental-permission", checked against
 * what the configuration should run: a figure of the wrong setup would be worse than none.
 */
function checkTree (c: SandboxConfig, pool: ExecutorPool): string {
  const cmdlines = pool.stats().pids.map(pid => { try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0') } catch { return [] } }).filter(a => a.length > 0)
  if (cmdlines.length === 0) return 'not readable'
  const names = cmdlines.map(a => {
    const name = basename(a[0] ?? '?')
    // bwrap's own command line holds Node's after `--`: only up to there is its own.
    const own = a.includes('--') ? a.slice(0, a.indexOf('--')) : a
    const perm = own.find(w => w === '--permission' || w === '--experimental-permission')
    return perm !== undefined ? `${name} ${perm}` : name
  })
  const bwrap = names.some(n => n === 'bwrap')
  const perm = names.some(n => n.includes('permission'))
  const want = { bwrap: c.sandbox?.mode === 'bwrap', perm: c.sandbox !== undefined }
  if (bwrap !== want.bwrap || perm !== want.perm) throw new Error(`${c.id}: the executor runs as ${names.join(' → ')}, not as this configuration should`)
  return names.join(' → ')
}

let variants = 0
/** A copy of the empty job no executor has run (its own file and scratch dir, a distinct text). */
function newCodeCopy (dir: string, emptySource: string): { modulePath: string, scratchDir: string } {
  const base = join(dir, `code-${++variants}`)
  const scratch = join(base, 'scratch')
  mkdirSync(scratch, { recursive: true })
  const modulePath = join(base, 'empty.mjs')
  writeFileSync(modulePath, `const VARIANT = ${JSON.stringify(`${process.pid}-${variants}-${Date.now()}`)}\n` + emptySource.replace('map () { return 0 }', 'map () { return VARIANT.length > 0 ? 0 : 1 }'))
  return { modulePath, scratchDir: scratch }
}

/** The package.json the pool binds into the sandbox (the one above the executor's entry). */
function packageJsonAbove (entry: string): string | undefined {
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'package.json')
    if (dirname(dir) === dir) return undefined
  }
}

function spawnExit (cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 }, (err) => err !== null ? reject(err) : resolve(performance.now() - t0))
  })
}

export async function measureSandboxCost (o: SandboxCostOptions): Promise<SandboxFigures> {
  const started = performance.now()
  const childEntry = defaultChildEntry()
  const modulePath = join(o.root, 'bench', 'jobs', 'empty.mjs')
  const scratchDir = join(o.workDir, 'sandbox-scratch')
  mkdirSync(scratchDir, { recursive: true })
  const packageJson = packageJsonAbove(childEntry)
  const probe = probeBwrap({ nodePath: process.execPath, packageJson })
  const caps = MemoryCaps.detect(true)
  const memoryCap = caps.describe()
  caps.close()
  const f: SandboxFigures = {
    command: o.command,
    quick: o.quick,
    date: new Date().toISOString(),
    cores: cpus().length,
    loadAvgBefore: loadavg(),
    loadAvgAfter: [],
    bwrap: probe.ok ? probe.version : `unavailable: ${probe.reason}`,
    memoryCap,
    niceness: o.niceness,
    slots: o.slots,
    starts: o.starts,
    tasks: o.tasks,
    runs: o.runs,
    totalS: 0,
    startMs: {},
    tps: {},
    cpuUsPerTask: {},
    newCodeMs: {},
    newCodeTasks: NEW_CODE_TASKS,
    processMs: {},
    tree: {},
    skipped: {},
  }
  const configs = SANDBOX_CONFIGS.filter(c => {
    if (c.sandbox?.mode === 'bwrap' && !probe.ok) { f.skipped[c.id] = f.bwrap; return false }
    return true
  })
  const live = new Set<ExecutorPool>()
  const unregister = onCleanup(async () => { await Promise.all([...live].map(async p => await p.close())) })
  const newPool = (c: SandboxConfig, slots: number): ExecutorPool => {
    const pool = new ExecutorPool({ slots, childEntry, niceness: o.niceness, sandbox: c.sandbox, memoryCap: c.memoryCap, env: o.env })
    live.add(pool)
    return pool
  }
  const closePool = async (pool: ExecutorPool): Promise<void> => { await pool.close(); live.delete(pool) }
  let seq = 0
  try {
    // (a) Start time. One untimed start of each first: the first spawn of a process pays for
    // cold caches (the Node binary, the executor's modules), which no later start does.
    for (let i = -1; i < o.starts; i++) {
      for (const c of rotate(configs, Math.max(0, i))) {
        const t0 = performance.now()
        const pool = newPool(c, 1)
        const out = await pool.run(EMPTY_TASK(modulePath, scratchDir, `s${++seq}`))
        const ms = performance.now() - t0
        if (i < 0) f.tree[c.id] = checkTree(c, pool)
        await closePool(pool)
        expectOk(out, `start (${c.id})`)
        if (i >= 0) (f.startMs[c.id] ??= []).push(ms)
      }
    }
    // The processes alone: what bwrap adds before Node runs at all.
    const bwrapConfig = configs.find(c => c.sandbox?.mode === 'bwrap')
    const choice = bwrapConfig?.sandbox !== undefined ? sandboxFor(bwrapConfig.sandbox, { childEntry, modulePath, scratchDir }) : undefined
    if (choice?.ok === true) {
      // The very arguments the pool gives bwrap for this job's executors.
      const inBox = [...bwrapArgs(choice.sandbox, { nodePath: process.execPath, packageJson }), process.execPath, '-e', '0']
      for (let i = -1; i < o.starts; i++) {
        const a = await spawnExit(process.execPath, ['-e', '0'])
        const b = await spawnExit(BWRAP, inBox)
        if (i >= 0) { (f.processMs.node ??= []).push(a); (f.processMs.bwrapNode ??= []).push(b) }
      }
    }
    const s = (id: SandboxConfigId): string => f.startMs[id] !== undefined ? `${median(f.startMs[id]).toFixed(0)} ms` : '–'
    o.log(`sandbox: executor start (median of ${o.starts}): ${configs.map(c => `${c.id} ${s(c.id)}`).join(', ')}`)

    // (b) Empty-task throughput: one warm pool per configuration, runs interleaved.
    const pools = new Map<SandboxConfigId, ExecutorPool>()
    const batch = async (pool: ExecutorPool, n: number, what: string, code = { modulePath, scratchDir }): Promise<number> => {
      const t0 = performance.now()
      const outs = await Promise.all(Array.from({ length: n }, () => pool.run(EMPTY_TASK(code.modulePath, code.scratchDir, `t${++seq}`))))
      const ms = performance.now() - t0
      for (const out of outs) expectOk(out, what)
      return ms
    }
    try {
      for (const c of configs) {
        const pool = newPool(c, o.slots)
        pools.set(c.id, pool)
        // Warm-up: every child started, the module loaded, the JIT and the pool's packing settled.
        await batch(pool, Math.min(o.tasks, 5000), `warm-up (${c.id})`)
      }
      // Then untimed rounds of full runs: this process's JIT and heap (the pool's side of every task)
      // settle over the first few hundred thousand tasks, and the first timed rounds were slower
      // for every configuration alike without them.
      for (let r = 0; r < WARM_ROUNDS; r++) {
        for (const c of rotate(configs, r)) await batch(pools.get(c.id) as ExecutorPool, o.tasks, `warm-up (${c.id})`)
      }
      for (let r = 0; r < o.runs; r++) {
        for (const c of rotate(configs, r)) {
          const pool = pools.get(c.id) as ExecutorPool
          const before = pool.stats()
          const cpu0 = treeUsage(before.pids).cpuMs
          const own0 = process.cpuUsage()
          const ms = await batch(pool, o.tasks, `throughput (${c.id})`)
          const own = process.cpuUsage(own0)
          const after = pool.stats()
          ;(f.tps[c.id] ??= []).push(o.tasks / (ms / 1000))
          // Only where the same executors ran the whole run (a restart would lose a child's CPU time).
          if (after.restarts === before.restarts && after.pids.join() === before.pids.join()) {
            const cpuMs = treeUsage(after.pids).cpuMs - cpu0 + (own.user + own.system) / 1000
            ;(f.cpuUsPerTask[c.id] ??= []).push(cpuMs * 1000 / o.tasks)
          }
        }
      }
      const t = (id: SandboxConfigId): string => f.tps[id] !== undefined ? `${median(f.tps[id]).toFixed(0)}/s` : '–'
      o.log(`sandbox: ${o.tasks} empty tasks through ${o.slots} slots (median of ${o.runs}): ${configs.map(c => `${c.id} ${t(c.id)}`).join(', ')}`)

      // (b') A short job of code the warm pools have not run: its own module and workspace, so,
      // with a sandbox, its own profile (executors are started with that code's permissions).
      const emptySource = readFileSync(modulePath, 'utf8')
      for (let r = 0; r < o.runs; r++) {
        for (const c of rotate(configs, r)) {
          const code = newCodeCopy(join(o.workDir, 'sandbox-code'), emptySource)
          const ms = await batch(pools.get(c.id) as ExecutorPool, NEW_CODE_TASKS, `new code (${c.id})`, code)
          ;(f.newCodeMs[c.id] ??= []).push(ms)
        }
      }
      const n = (id: SandboxConfigId): string => f.newCodeMs[id] !== undefined ? `${median(f.newCodeMs[id]).toFixed(0)} ms` : '–'
      o.log(`sandbox: ${NEW_CODE_TASKS} tasks of new code (median of ${o.runs}): ${configs.map(c => `${c.id} ${n(c.id)}`).join(', ')}`)
    } finally {
      await Promise.all([...pools.values()].map(closePool))
    }
  } finally {
    unregister()
    await Promise.all([...live].map(closePool))
  }

  // (c) A 3-node mesh, `--sandbox bwrap` against `--sandbox none`.
  if (o.mesh !== undefined) f.mesh = await measureMesh(o, o.mesh, probe.ok)
  f.loadAvgAfter = loadavg()
  f.totalS = (performance.now() - started) / 1000
  return f
}

async function measureMesh (o: SandboxCostOptions, m: NonNullable<SandboxCostOptions['mesh']>, bwrapOk: boolean): Promise<NonNullable<SandboxFigures['mesh']>> {
  const out: NonNullable<SandboxFigures['mesh']> = { nodes: m.nodes, tasks: m.tasks, shortTasks: m.shortTasks, runs: m.runs, tps: {}, nodeTps: {}, newCodeMs: {} }
  const modes: Array<'bwrap' | 'none'> = bwrapOk ? ['none', 'bwrap'] : ['none']
  const emptySource = readFileSync(join(o.root, 'bench', 'jobs', 'empty.mjs'), 'utf8')
  /** A copy of the empty job that no node has run: its own code hash, so its own executors under the sandbox. */
  const newCode = (): string => newCodeCopy(join(o.workDir, 'sandbox-mesh'), emptySource).modulePath
  const meshes = new Map<'bwrap' | 'none', Awaited<ReturnType<typeof startMeshwork>>>()
  try {
    // Both meshes stay up, and their jobs alternate: idle nodes cost little, and other load on
    // the machine then falls on both alike.
    for (const mode of modes) {
      o.log(`sandbox: starting a ${m.nodes}-node mesh with --sandbox ${mode}`)
      meshes.set(mode, await startMeshwork({ nodes: m.nodes, baseDir: join(o.workDir, `sandbox-mesh-${mode}`), env: o.env, args: ['--sandbox', mode] }))
    }
    const emptyReq = await (meshes.get('none') as Awaited<ReturnType<typeof startMeshwork>>).build(join(o.root, 'bench', 'jobs', 'empty.mjs'), { json: { tasks: m.tasks } })
    // Warm-up: every node coordinates an empty-task job (its coordinator code compiled, its executors started for this code).
    for (const mode of modes) {
      const mesh = meshes.get(mode) as Awaited<ReturnType<typeof startMeshwork>>
      const coordinated = new Set<string>()
      for (let n = 0; coordinated.size < m.nodes && n < 4 * m.nodes; n++) {
        const { record } = await mesh.run(emptyReq)
        if (record.result !== m.tasks) throw new Error(`--sandbox ${mode}: empty job returned ${JSON.stringify(record.result)}`)
        if (record.coordinator !== undefined) coordinated.add(record.coordinator)
      }
    }
    // All warm jobs first: a job of other code in between would take the executors to its profile.
    for (let r = 0; r < m.runs; r++) {
      for (const mode of rotate(modes, r)) {
        const mesh = meshes.get(mode) as Awaited<ReturnType<typeof startMeshwork>>
        const warm = await mesh.run(emptyReq)
        if (warm.record.result !== m.tasks) throw new Error(`--sandbox ${mode}: empty job returned ${JSON.stringify(warm.record.result)}`)
        ;(out.tps[mode] ??= []).push(m.tasks / (warm.clientWallMs / 1000))
        if (warm.record.wallMs !== undefined) ((out.nodeTps ??= {})[mode] ??= []).push(m.tasks / (warm.record.wallMs / 1000))
      }
    }
    for (let r = 0; r < m.runs; r++) {
      for (const mode of rotate(modes, r)) {
        const mesh = meshes.get(mode) as Awaited<ReturnType<typeof startMeshwork>>
        const short = await mesh.run(await mesh.build(newCode(), { json: { tasks: m.shortTasks } }))
        if (short.record.result !== m.shortTasks) throw new Error(`--sandbox ${mode}: short job returned ${JSON.stringify(short.record.result)}`)
        ;(out.newCodeMs[mode] ??= []).push(short.clientWallMs)
      }
    }
    const f = (xs: number[] | undefined, unit: string): string => xs !== undefined ? `${median(xs).toFixed(0)}${unit}` : '–'
    o.log(`sandbox: mesh of ${m.nodes}: ${modes.map(mode => `--sandbox ${mode} ${f(out.tps[mode], ' tasks/s')}, new code ${f(out.newCodeMs[mode], ' ms')}`).join('; ')}`)
  } catch (err) {
    out.error = (err as Error).message.split('\n')[0] ?? String(err)
    o.log(`sandbox: mesh comparison failed: ${(err as Error).stack ?? String(err)}`)
  } finally {
    for (const mesh of meshes.values()) await mesh.stop().catch(() => {})
  }
  return out
}
