import '../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { packageRoot } from '../src/package-root.js'
import { cleanupAll, installExitHandlers, RUN_MARKER_ENV } from './lib/procs.js'
import { measureSandboxCost, type SandboxCostOptions, type SandboxFigures } from './lib/sandbox-cost.js'
import { renderSandboxSection, spliceSandboxSection } from './lib/sandbox-report.js'

// The cost of the task sandbox alone (issue 21; `npm run bench` measures it too):
//   npx tsc -p tsconfig.json && node dist/bench/sandbox.js [--quick] [--starts N] [--tasks N]
//     [--runs N] [--slots N] [--niceness N] [--no-mesh] [--mesh-tasks N] [--out DIR] [--write]
// Prints the "Sandbox cost" section of BENCHMARKS.md and writes it with the raw figures
// (sandbox.json) to --out (default: a temporary directory); --write also puts the section into
// the package's BENCHMARKS.md in place of the one there (nothing else of it changes).

const argv = process.argv.slice(2)
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`node dist/bench/sandbox.js [OPTIONS]

Executor start time and empty-task throughput with bubblewrap + the permission model, the
permission model only, and no sandbox (ExecutorPool in this process); and a 3-node mesh with
--sandbox bwrap against --sandbox none.

  --quick          10 starts, 10,000 tasks, 5 runs, no mesh (about half a minute)
  --starts N       executor starts per configuration (default 20)
  --tasks N        empty tasks per throughput run (default 20000)
  --runs N         throughput runs per configuration (default 7)
  --slots N        executors of the throughput pool (default 2)
  --niceness N     the executors' niceness (default 0; a node uses 19)
  --no-mesh        skip the mesh comparison (--mesh: run it with --quick too)
  --mesh-tasks N   tasks of the mesh's empty-task job (default: --tasks)
  --mesh-runs N    jobs of each kind per mesh (default 10)
  --out DIR        where sandbox.md and sandbox.json go (default: a temporary directory)
  --write          also replace the "Sandbox cost" section of BENCHMARKS.md
  --render FILE    print (and with --write, put in place) the section of a sandbox.json
`)
  process.exit(0)
}
const flag = (name: string): boolean => argv.includes(`--${name}`)
const arg = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const root = packageRoot()
const quick = flag('quick')

const renderFrom = arg('render')
const figures: SandboxFigures = renderFrom !== undefined
  ? JSON.parse(readFileSync(renderFrom, 'utf8')) as SandboxFigures
  : await measure()
const section = renderSandboxSection(figures).join('\n')
process.stdout.write(section)
if (renderFrom === undefined) {
  const outDir = resolve(arg('out') ?? mkdtempSync(join(tmpdir(), 'mwbench-sandbox-out-')))
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, 'sandbox.json'), JSON.stringify(figures, null, 2) + '\n')
  writeFileSync(join(outDir, 'sandbox.md'), section)
  process.stderr.write(`wrote ${join(outDir, 'sandbox.md')} and sandbox.json\n`)
}
if (flag('write')) {
  const path = join(root, 'BENCHMARKS.md')
  writeFileSync(path, spliceSandboxSection(readFileSync(path, 'utf8'), section))
  process.stderr.write(`put the section into ${path}\n`)
}
process.exit(0)

async function measure (): Promise<SandboxFigures> {
  installExitHandlers()
  const runId = process.env[RUN_MARKER_ENV] ?? randomBytes(4).toString('hex')
  process.env[RUN_MARKER_ENV] = runId
  const workDir = mkdtempSync(join(tmpdir(), `mwbench-sandbox-${runId}-`))
  const started = performance.now()
  const log = (msg: string): void => { process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`) }
  const tasks = Number(arg('tasks') ?? (quick ? 10_000 : 20_000))
  const mesh = quick ? flag('mesh') : !flag('no-mesh')
  const opts: SandboxCostOptions = {
    workDir,
    root,
    starts: Number(arg('starts') ?? (quick ? 10 : 20)),
    tasks,
    runs: Number(arg('runs') ?? (quick ? 5 : 7)),
    slots: Number(arg('slots') ?? 2),
    niceness: Number(arg('niceness') ?? 0),
    ...(mesh ? { mesh: { nodes: 3, tasks: Number(arg('mesh-tasks') ?? tasks), runs: Number(arg('mesh-runs') ?? (quick ? 2 : 10)), shortTasks: 32 } } : {}),
    env: { [RUN_MARKER_ENV]: runId },
    log,
    quick,
    command: `node dist/bench/sandbox.js${argv.length > 0 ? ' ' + argv.join(' ') : ''}`,
  }
  try {
    return await measureSandboxCost(opts)
  } finally {
    await cleanupAll()
    if (process.env.MWBENCH_KEEP_WORKDIR === undefined) rmSync(workDir, { recursive: true, force: true })
  }
}
