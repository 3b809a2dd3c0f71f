import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SCHEDULER_CONFIG } from '../src/jobs/scheduler-config.js'
import { packageRoot } from '../src/package-root.js'
import { renderChart } from './lib/chart.js'
import { generateCorpus } from './lib/corpus.js'
import { cpuBusyOver, machineFacts } from './lib/machine.js'
import { cleanupAll, installExitHandlers, RUN_MARKER_ENV } from './lib/procs.js'
import { startRedis, type RedisServer } from './lib/redis.js'
import { renderReport, type BenchConfig } from './lib/report.js'
import { measureSandboxCost, type SandboxFigures } from './lib/sandbox-cost.js'
import { p50, p99, Results } from './lib/results.js'
import { loadModules, modulePaths, runWindowed, type JobModule, type Kind } from './lib/workloads.js'
import { startBullmq } from './systems/bullmq.js'
import { startMeshwork } from './systems/meshwork.js'
import { startMoleculer } from './systems/moleculer.js'
import { startPiscina } from './systems/piscina.js'
import type { Baseline } from './systems/types.js'

// npm run bench [-- --quick] [--out DIR] [--runs N] [--sizes 3,5,8] [--tasks N] [--latency-tasks N]
//                 [--primes-to N] [--primes-parts N] [--corpus-mb N] [--words-parts N]
//                 [--piscina-concurrency N] [--only meshwork,piscina,moleculer,bullmq,sandbox]
//                 [--sandbox-starts N] [--sandbox-niceness N]
// npm run bench -- --render bench/results/benchmarks.json    (rewrite the report and chart only)
//
// Defaults: the full run writes BENCHMARKS.md at the package root and the chart and raw figures
// under bench/results/; --quick (small inputs, one run, only 3 processes) writes to --out or a
// temporary directory, never over BENCHMARKS.md.
//
// Meshwork against what a user would pick instead, in one run on this machine: a single process,
// a local worker pool (piscina), Moleculer (TCP transporter, static 127.0.0.1 URLs, CpuUsage) and
// BullMQ on a Redis server the benchmark starts — on the same three workloads (empty tasks, the
// CPU-bound primes example, word count over a generated corpus) and the same process counts.
// Writes BENCHMARKS.md (figures, ratios, targets met/missed, command, machine facts), a chart
// (SVG and PNG) and the raw figures (JSON). Every process it starts is stopped at the end.

const argv = process.argv.slice(2)
if (argv.includes('--help') || argv.includes('-h')) {
  // Anything else would start a run of a quarter of an hour.
  process.stdout.write(`npm run bench [-- OPTIONS]   (or: node dist/bench/run.js [OPTIONS])

Meshwork against a single process, piscina, Moleculer and BullMQ on Redis, in one run; writes
BENCHMARKS.md, the chart and bench/results/benchmarks.json (a --quick run writes to --out or a
temporary directory instead).

  --quick                 small inputs, one run, 3 processes (the smoke test in npm test)
  --out DIR               where to write the report
  --runs N                timed runs per figure (default 3; quick 1)
  --sizes 3,5,8           process counts for the growth table
  --tasks N               empty tasks per throughput run (default 20000)
  --latency-tasks N       tasks per windowed latency run of the baselines (default 5000)
  --primes-to N           primes below N (default: sized to ~10 s sequentially)
  --primes-parts N        ranges of the CPU-bound job (default 32)
  --corpus-mb N           word-count corpus size (default 100)
  --words-parts N         word-count parts (default 64)
  --piscina-concurrency N the second piscina setting (default 8)
  --only LIST             meshwork,piscina,moleculer,bullmq,sandbox (the single process always runs)
  --sandbox-starts N      executor starts per sandbox configuration (default 20; quick 10); the
                          sandbox's cost alone: node dist/bench/sandbox.js --help
  --sandbox-niceness N    the executors' niceness in the sandbox measurement (default 0)
  --render FILE           rewrite the report and chart from a benchmarks.json, measuring nothing
`)
  process.exit(0)
}
const flag = (name: string): boolean => argv.includes(`--${name}`)
const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const quick = flag('quick')
const root = packageRoot()
const distBench = dirname(fileURLToPath(import.meta.url))
const cores = cpus().length
const only = arg('only')?.split(',')
const enabled = (family: string): boolean => only === undefined || only.includes(family)

const sizes = (arg('sizes') ?? (quick ? '3' : '3,5,8')).split(',').map(Number)
// What Meshwork keeps in flight per worker node for a job of short tasks (SchedulerConfig.shortWindowPerSlot):
// BullMQ's worker concurrency.
const meshWindowPerNode = cores * Math.max(DEFAULT_SCHEDULER_CONFIG.windowPerSlot, DEFAULT_SCHEDULER_CONFIG.shortWindowPerSlot)
// A job of tiny tasks runs on its coordinator's node only (SchedulerConfig.localRunBelowMsPerSlot), one
// group of localGroupMax tasks per slot: its whole window is this many tasks, whatever the mesh size,
// and the baselines' latency runs keep as many in flight.
const meshKeptInFlight = cores * DEFAULT_SCHEDULER_CONFIG.localGroupMax
const config: BenchConfig = {
  quick,
  runs: Number(arg('runs') ?? (quick ? 1 : 3)),
  tasks: Number(arg('tasks') ?? (quick ? 1000 : 20_000)),
  latencyTasks: Number(arg('latency-tasks') ?? (quick ? 1000 : 5000)),
  sizes,
  headline: sizes[0] as number,
  primesTo: arg('primes-to') !== undefined ? Number(arg('primes-to')) : undefined,
  primesTargetSeqMs: quick ? 200 : 10_000,
  primesParts: Number(arg('primes-parts') ?? 32),
  corpusBytes: Math.round(Number(arg('corpus-mb') ?? (quick ? 1 : 100)) * 1e6),
  wordsParts: Number(arg('words-parts') ?? (quick ? 8 : 64)),
  piscinaConcurrency: [1, Number(arg('piscina-concurrency') ?? 8)],
  bullmqConcurrency: meshWindowPerNode,
  meshWindowPerNode,
  meshKeptInFlight,
  cores,
  command: process.env.npm_lifecycle_event === 'bench' ? `npm run bench${argv.length > 0 ? ' -- ' + argv.join(' ') : ''}` : `node dist/bench/run.js${argv.length > 0 ? ' ' + argv.join(' ') : ''}`,
}
const outDir = resolve(arg('out') ?? (quick ? mkdtempSync(join(tmpdir(), 'mwbench-out-')) : root))
const assetsDir = outDir === root ? join(root, 'bench', 'results') : outDir

// --render FILE: rewrite BENCHMARKS.md and the chart from a run's benchmarks.json (no measuring).
const renderFrom = arg('render')
/** The sandbox's cost (issue 21), measured after the systems. */
let sandboxFigures: SandboxFigures | undefined
if (renderFrom !== undefined) {
  const saved = JSON.parse(readFileSync(renderFrom, 'utf8')) as { config: BenchConfig, facts: ReturnType<typeof machineFacts>, totalS: number, results: Results['data'], errors: Results['errors'], counts?: Results['counts'], sandbox?: SandboxFigures }
  const r = new Results()
  Object.assign(r.data, saved.results)
  Object.assign(r.errors, saved.errors)
  Object.assign(r.counts, saved.counts ?? {})
  sandboxFigures = saved.sandbox
  await writeOutputs(r, saved.config, saved.facts, saved.totalS)
  process.exit(0)
}

async function writeOutputs (r: Results, c: BenchConfig, f: ReturnType<typeof machineFacts>, totalS: number, runId?: string): Promise<void> {
  mkdirSync(outDir, { recursive: true })
  mkdirSync(assetsDir, { recursive: true })
  const jsonPath = join(assetsDir, 'benchmarks.json')
  if (runId !== undefined) writeFileSync(jsonPath, JSON.stringify({ config: c, facts: f, runId, totalS, results: r.data, errors: r.errors, counts: r.counts, ...(sandboxFigures !== undefined ? { sandbox: sandboxFigures } : {}) }, null, 2) + '\n')
  let charts: { svg?: string, png?: string } = {}
  try {
    charts = await renderChart(r, c, assetsDir)
  } catch (err) {
    process.stderr.write(`chart: ${(err as Error).message}\n`)
  }
  const rel = (p: string | undefined): string | undefined => p === undefined ? undefined : relative(outDir, p)
  writeFileSync(join(outDir, 'BENCHMARKS.md'), renderReport({ results: r, config: c, facts: f, totalS, charts: { svg: rel(charts.svg), png: rel(charts.png) }, json: relative(outDir, jsonPath), ...(sandboxFigures !== undefined ? { sandbox: sandboxFigures } : {}) }))
}

installExitHandlers()
const runId = process.env[RUN_MARKER_ENV] ?? randomBytes(4).toString('hex')
process.env[RUN_MARKER_ENV] = runId // inherited by every process started below (LocalMesh passes process.env on)
const childEnv = { [RUN_MARKER_ENV]: runId }
const workDir = mkdtempSync(join(tmpdir(), `mwbench-${runId}-`))
process.on('exit', () => { if (process.env.MWBENCH_KEEP_WORKDIR === undefined) rmSync(workDir, { recursive: true, force: true }) })
const logDir = join(workDir, 'logs')
mkdirSync(logDir, { recursive: true })

const started = performance.now()
const log = (msg: string): void => { process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`) }

const results = new Results()
const facts = machineFacts(root)
const paths = modulePaths(root)
let modules: Record<Kind, JobModule>
const corpusPath = join(workDir, 'corpus.txt')
let reference: { primes: number, words: string } = { primes: NaN, words: '' }

const wordsChunks = (parts: number): unknown[] => [...modules.words.split(readFileSync(corpusPath), { parts })]
const primesChunks = (): unknown[] => [...modules.primes.split({ from: 0, to: config.primesTo }, { parts: config.primesParts })]
const emptyChunks = (tasks = config.tasks): unknown[] => [...modules.empty.split({ tasks }, { parts: tasks })]

function checkEmpty (value: unknown, who: string, tasks = config.tasks): void {
  if (value !== tasks) throw new Error(`${who}: empty job returned ${JSON.stringify(value)}, expected ${tasks}`)
}
function checkPrimes (value: unknown, who: string): void {
  if (value !== reference.primes) throw new Error(`${who}: primes returned ${JSON.stringify(value)}, expected ${reference.primes}`)
}
function checkWords (value: unknown, who: string): void {
  if (JSON.stringify(value) !== reference.words) throw new Error(`${who}: word count differs from the single-process result`)
}

/** Sizes `to` so that the single-process primes count takes about `targetMs` here. */
function calibratePrimes (targetMs: number): number {
  const countPrimes = (to: number): number => {
    const t0 = performance.now()
    modules.primes.map({ from: 0, to })
    return performance.now() - t0
  }
  countPrimes(200_000) // warm the JIT
  let to = 500_000
  let ms = countPrimes(to)
  while (ms < Math.min(400, targetMs / 4)) { to *= 2; ms = countPrimes(to) }
  // cost(to) ≈ c · to^1.5 / ln(to): solve cost = target by fixed-point iteration
  const c = ms / (Math.pow(to, 1.5) / Math.log(to))
  let guess = to
  for (let i = 0; i < 30; i++) guess = Math.pow(targetMs * Math.log(guess) / c, 1 / 1.5)
  const digits = Math.pow(10, Math.floor(Math.log10(guess)) - 1)
  return Math.round(guess / digits) * digits
}

function countIncidents (id: string, incidents: { pollErrors: number, postRetries: number }): void {
  if (incidents.pollErrors > 0) results.count(id, 'pollErrors', incidents.pollErrors)
  if (incidents.postRetries > 0) results.count(id, 'postRetries', incidents.postRetries)
}

/**
 * One workload run; a failure is recorded as an incident and the run skipped, so one bad run
 * does not cost the system all its figures. Two failures in a row end the system's runs.
 */
let failuresInARow = 0
async function attempt (id: string, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
    failuresInARow = 0
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? String(err)
    log(`${id}: ${what} failed: ${message}`)
    results.count(id, `failed: ${what}: ${message.slice(0, 160)}`)
    if (++failuresInARow >= 2) throw err
  }
}

// --- the systems -------------------------------------------------------------------------

async function sequential (): Promise<void> {
  const id = 'sequential'
  const empty = (timed: boolean): void => {
    const chunks = emptyChunks()
    const lat = new Array<number>(chunks.length)
    const out = new Array<unknown>(chunks.length)
    const t0 = performance.now()
    for (let i = 0; i < chunks.length; i++) {
      const s = performance.now()
      out[i] = modules.empty.map(chunks[i], {})
      lat[i] = performance.now() - s
    }
    const value = modules.empty.reduce(out, {})
    const wall = performance.now() - t0
    checkEmpty(value, id)
    if (!timed) return
    results.add(id, 'empty.tps', config.tasks / (wall / 1000))
    results.add(id, 'empty.p50', p50(lat))
    results.add(id, 'empty.p99', p99(lat))
  }
  const primes = (timed: boolean): void => {
    const t0 = performance.now()
    const value = modules.primes.reduce(primesChunks().map(c => modules.primes.map(c, {})), {})
    const wall = performance.now() - t0
    if (Number.isNaN(reference.primes)) reference.primes = value as number
    checkPrimes(value, id)
    if (timed) results.add(id, 'primes.wallMs', wall)
  }
  const words = (timed: boolean): void => {
    const t0 = performance.now()
    const value = modules.words.reduce(wordsChunks(config.wordsParts).map(c => modules.words.map(c, {})), {})
    const wall = performance.now() - t0
    if (reference.words === '') reference.words = JSON.stringify(value)
    checkWords(value, id)
    if (timed) results.add(id, 'words.wallMs', wall)
  }
  log('sequential: warm-up')
  empty(false); primes(false); words(false)
  for (let r = 0; r < config.runs; r++) {
    empty(true); primes(true); words(true)
    log(`sequential: run ${r + 1}/${config.runs}: primes ${results.get(id, 'primes.wallMs')?.at(-1)?.toFixed(0)} ms, words ${results.get(id, 'words.wallMs')?.at(-1)?.toFixed(0)} ms`)
  }
}

/** Drives a baseline: all workloads, one untimed warm-up pass, then the timed runs interleaved. */
async function measureBaseline (b: Baseline, opts: { window: number, words: boolean }): Promise<void> {
  const all = async (kind: Kind, chunks: unknown[]): Promise<unknown[]> =>
    b.dispatchAll !== undefined ? await b.dispatchAll(kind, chunks) : (await runWindowed(b.dispatch, kind, chunks, Infinity)).results
  const emptyAll = async (timed: boolean): Promise<void> => {
    const chunks = emptyChunks()
    const t0 = performance.now()
    const value = modules.empty.reduce(await all('empty', chunks), {})
    const wall = performance.now() - t0
    checkEmpty(value, b.id)
    if (timed) results.add(b.id, 'empty.tps', config.tasks / (wall / 1000))
  }
  const emptyWindowed = async (timed: boolean): Promise<void> => {
    const run = await runWindowed(b.dispatch, 'empty', emptyChunks(config.latencyTasks), opts.window)
    checkEmpty(modules.empty.reduce(run.results, {}), b.id, config.latencyTasks)
    if (!timed) return
    results.add(b.id, 'empty.win.tps', config.latencyTasks / (run.wallMs / 1000))
    results.add(b.id, 'empty.win.p50', p50(run.latenciesMs))
    results.add(b.id, 'empty.win.p99', p99(run.latenciesMs))
  }
  const primes = async (timed: boolean): Promise<void> => {
    const t0 = performance.now()
    const value = modules.primes.reduce(await all('primes', primesChunks()), {})
    const wall = performance.now() - t0
    checkPrimes(value, b.id)
    if (timed) results.add(b.id, 'primes.wallMs', wall)
  }
  const words = async (timed: boolean): Promise<void> => {
    const t0 = performance.now()
    const value = modules.words.reduce(await all('words', wordsChunks(config.wordsParts)), {})
    const wall = performance.now() - t0
    checkWords(value, b.id)
    if (timed) results.add(b.id, 'words.wallMs', wall)
  }
  const pass = async (timed: boolean): Promise<void> => {
    const tag = timed ? 'run' : 'warm-up'
    await attempt(b.id, `empty tasks at once (${tag})`, async () => { await emptyAll(timed); await b.afterRun?.() })
    await attempt(b.id, `empty tasks windowed (${tag})`, async () => { await emptyWindowed(timed); await b.afterRun?.() })
    await attempt(b.id, `primes (${tag})`, async () => { await primes(timed); await b.afterRun?.() })
    if (opts.words) await attempt(b.id, `word count (${tag})`, async () => { await words(timed); await b.afterRun?.() })
  }
  log(`${b.id}: warm-up`)
  await pass(false)
  for (let r = 0; r < config.runs; r++) {
    await pass(true)
    const f = (m: Parameters<Results['get']>[1], d = 0): string => results.get(b.id, m)?.at(-1)?.toFixed(d) ?? '–'
    log(`${b.id}: run ${r + 1}/${config.runs}: ${f('empty.tps')} tasks/s at once, ${f('empty.win.tps')} tasks/s windowed (p50 ${f('empty.win.p50', 3)} ms), primes ${f('primes.wallMs')} ms${opts.words ? `, words ${f('words.wallMs')} ms` : ''}`)
  }
}

async function withBaseline (id: string, start: () => Promise<Baseline>, opts: { window: number, words: boolean }): Promise<void> {
  failuresInARow = 0
  let b: Baseline | undefined
  try {
    log(`${id}: starting`)
    b = await start()
    await measureBaseline(b, opts)
  } catch (err) {
    log(`${id}: FAILED: ${(err as Error).stack ?? String(err)}`)
    results.fail(id, err)
  } finally {
    await b?.stop().catch(err => log(`${id}: stop failed: ${(err as Error).message}`))
  }
}

async function meshwork (nodes: number, words: boolean): Promise<void> {
  const id = `meshwork-${nodes}`
  failuresInARow = 0
  let mesh: Awaited<ReturnType<typeof startMeshwork>> | undefined
  try {
    log(`${id}: starting ${nodes} node processes`)
    mesh = await startMeshwork({ nodes, baseDir: join(workDir, id), env: childEnv })
    const m = mesh
    const emptyReq = await m.build(paths.empty, { json: { tasks: config.tasks } })
    const primesReq = await m.build(paths.primes, { json: { from: 0, to: config.primesTo } }, config.primesParts)
    /** Nodes that have coordinated an empty-task job: a job's coordinator is chosen per job. */
    const coordinated = new Set<string>()
    const empty = async (timed: boolean): Promise<void> => {
      const { clientWallMs, record, ...incidents } = await m.run(emptyReq)
      countIncidents(id, incidents)
      checkEmpty(record.result, id)
      if (!timed) {
        if (record.coordinator !== undefined && !coordinated.has(record.coordinator)) {
          coordinated.add(record.coordinator)
          results.add(id, 'empty.firstOnNode.tps', config.tasks / (clientWallMs / 1000))
        }
        return
      }
      results.add(id, 'empty.tps', config.tasks / (clientWallMs / 1000))
      if (record.wallMs !== undefined) results.add(id, 'empty.node.tps', config.tasks / (record.wallMs / 1000))
      if (record.coordinator !== undefined) results.add(id, 'empty.onCoordinator', (record.tasksByPeer[record.coordinator] ?? 0) / config.tasks)
      if (record.taskRoundTripMs !== undefined) {
        results.add(id, 'empty.p50', record.taskRoundTripMs.p50)
        results.add(id, 'empty.p99', record.taskRoundTripMs.p99)
      }
    }
    const primes = async (timed: boolean): Promise<void> => {
      const { clientWallMs, record, ...incidents } = await m.run(primesReq)
      countIncidents(id, incidents)
      checkPrimes(record.result, id)
      if (!timed) return
      results.add(id, 'primes.wallMs', clientWallMs)
      if (record.wallMs !== undefined) results.add(id, 'primes.node.wallMs', record.wallMs)
    }
    const wordsRun = async (timed: boolean): Promise<void> => {
      const t0 = performance.now()
      const request = await m.build(paths.words, { file: corpusPath }, config.wordsParts)
      const { record, ...incidents } = await m.run(request)
      const wall = performance.now() - t0
      countIncidents(id, incidents)
      checkWords(record.result, id)
      if (!timed) return
      results.add(id, 'words.wallMs', wall)
      if (record.wallMs !== undefined) results.add(id, 'words.node.wallMs', record.wallMs)
      if (record.coordinator !== undefined) results.add(id, 'words.offCoordinator', 1 - (record.tasksByPeer[record.coordinator] ?? 0) / Math.max(1, record.tasks))
    }
    const pass = async (timed: boolean): Promise<void> => {
      const tag = timed ? 'run' : 'warm-up'
      // The warm-up runs empty-task jobs until every node has coordinated one (at most 4 per node):
      // each node compiles its coordinator's code on the first job it coordinates, which the other
      // systems' one warm-up pass does for their single caller.
      for (let n = 0; timed ? n < 1 : coordinated.size < nodes && n < 4 * nodes; n++) {
        await attempt(id, `empty tasks (${tag})`, async () => await empty(timed))
      }
      await attempt(id, `primes (${tag})`, async () => await primes(timed))
      if (words) await attempt(id, `word count (${tag})`, async () => await wordsRun(timed))
    }
    log(`${id}: warm-up`)
    await pass(false)
    for (let r = 0; r < config.runs; r++) {
      await pass(true)
      const f = (metric: Parameters<Results['get']>[1], d = 0): string => results.get(id, metric)?.at(-1)?.toFixed(d) ?? '–'
      log(`${id}: run ${r + 1}/${config.runs}: ${f('empty.tps')} tasks/s (node ${f('empty.node.tps')}), p50 ${f('empty.p50', 3)} ms, primes ${f('primes.wallMs')} ms${words ? `, words ${f('words.wallMs')} ms` : ''}`)
    }
  } catch (err) {
    log(`${id}: FAILED: ${(err as Error).stack ?? String(err)}`)
    results.fail(id, err)
  } finally {
    await mesh?.stop().catch(err => log(`${id}: stop failed: ${(err as Error).message}`))
  }
}

// --- the run -----------------------------------------------------------------------------

let redis: RedisServer | undefined
let exitCode = 0
try {
  modules = await loadModules(root)
  const busy = await cpuBusyOver(2000)
  if (busy !== undefined) facts.cpuBusyBefore = busy
  log(`run ${runId}: ${quick ? 'quick' : 'full'}; ${cores} cores, ${facts.cpuModel}, Node ${process.version}; load average ${loadavg().map(x => x.toFixed(2)).join(' ')}; cores busy ${busy !== undefined ? `${(busy * 100).toFixed(0)} %` : '?'} over the last 2 s; work dir ${workDir}`)
  const corpusBytes = await generateCorpus(corpusPath, config.corpusBytes, root)
  config.corpusBytes = corpusBytes
  log(`corpus: ${(corpusBytes / 1e6).toFixed(1)} MB generated`)
  config.primesTo ??= calibratePrimes(config.primesTargetSeqMs)
  log(`primes below ${config.primesTo}, ${config.primesParts} parts`)

  await sequential()
  const window = config.meshKeptInFlight ?? config.meshWindowPerNode
  if (enabled('piscina')) {
    for (const c of config.piscinaConcurrency) {
      await withBaseline(`piscina-${c}`, async () => await startPiscina(distBench, cores, c), { window, words: true })
    }
  }
  if (enabled('bullmq')) {
    try {
      redis = await startRedis(join(workDir, 'redis'), join(distBench, 'lib', 'redis-guard.js'), childEnv)
      log(`redis-server ${redis.version} on 127.0.0.1:${redis.port}`)
    } catch (err) {
      for (const n of sizes) results.fail(`bullmq-${n}`, err)
      log(`redis: ${(err as Error).message}`)
    }
  }
  for (const n of sizes) {
    const words = n === config.headline
    if (enabled('meshwork')) await meshwork(n, words)
    if (enabled('moleculer')) await withBaseline(`moleculer-${n}`, async () => await startMoleculer({ distBench, nodes: n, runId, logDir, env: childEnv }), { window, words })
    if (enabled('bullmq') && redis !== undefined) {
      const port = redis.port
      await withBaseline(`bullmq-${n}`, async () => await startBullmq({ distBench, workers: n, concurrency: config.bullmqConcurrency, redisPort: port, runId, logDir, env: childEnv }), { window, words })
    }
  }
  // Last, with every other system stopped: executor start times are sensitive to other load.
  if (enabled('sandbox')) {
    try {
      log('sandbox: executor start and empty-task throughput with and without the sandbox')
      sandboxFigures = await measureSandboxCost({
        workDir,
        root,
        starts: Number(arg('sandbox-starts') ?? (quick ? 10 : 20)),
        tasks: quick ? 5000 : config.tasks,
        runs: quick ? 3 : 7,
        slots: 2,
        niceness: Number(arg('sandbox-niceness') ?? 0),
        // The mesh comparison starts two more meshes: full runs only.
        ...(quick ? {} : { mesh: { nodes: config.headline, tasks: config.tasks, runs: 10, shortTasks: 32 } }),
        env: childEnv,
        log,
        quick,
        command: config.command,
      })
    } catch (err) {
      log(`sandbox: FAILED: ${(err as Error).stack ?? String(err)}`)
      results.fail('sandbox', err)
    }
  }
} catch (err) {
  log(`FAILED: ${(err as Error).stack ?? String(err)}`)
  exitCode = 1
} finally {
  await redis?.stop().catch(() => {})
  await cleanupAll()
}

facts.loadAvgAfter = loadavg()
const totalS = (performance.now() - started) / 1000
await writeOutputs(results, config, facts, totalS, runId)
log(`wrote ${join(outDir, 'BENCHMARKS.md')} in ${totalS.toFixed(0)} s${Object.keys(results.errors).length > 0 ? `; failed: ${Object.keys(results.errors).join(', ')}` : ''}`)
process.exit(exitCode !== 0 || Object.keys(results.errors).length > 0 ? 1 : 0)
