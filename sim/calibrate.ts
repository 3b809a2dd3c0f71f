import '../src/polyfill.js'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { Mesh } from '../src/index.js'
import { MeshClient } from '../src/node/cli/client.js'
import { waitForFullMesh } from '../src/node/testing/local-mesh.js'
import { LocalMesh } from '../src/node/testing/local-mesh.js'
import { packageRoot } from '../src/package-root.js'
import { defaultConfig } from './config.js'
import { emptyFaultPlan } from './faults.js'
import { runOnce } from './run.js'

// npm run sim:calibrate [-- --nodes 3 --tasks 3000 --runs 3]
// Runs the same workload on a real local mesh and in the simulator and reports how far the
// simulator's makespan and per-task overhead are from the measured ones. Workload: one job of
// N empty tasks (bench/jobs/empty.mjs), so the makespan is all per-task overhead; the mesh's
// nodes have the default slots (one per core). Per-task overhead = makespan x slots / tasks.

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`)
  return v
}
const nodes = arg('nodes', 3)
const tasks = arg('tasks', 3000)
const runs = arg('runs', 3)
const slots = Math.max(1, cpus().length)
const emptyJob = join(packageRoot(), 'bench', 'jobs', 'empty.mjs')

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2
}

const load = loadavg()[0] ?? 0
const mesh = await LocalMesh.start({ nodes, fastTimers: false, logLevel: 'warn' })
const measuredMs: number[] = []
const roundTripP50: number[] = []
try {
  await waitForFullMesh(mesh, nodes, 60_000)
  const client = new Mesh(new MeshClient(mesh.nodes[0]!.apiUrl, mesh.token))
  await client.submit(emptyJob, { tasks: 500 }) // warm-up: code caches, executors, streams
  for (let r = 0; r < runs; r++) {
    const out = await client.submit(emptyJob, { tasks })
    if (out.result !== tasks) throw new Error(`empty job returned ${String(out.result)}`)
    measuredMs.push(out.wallMs)
    const record = await client.job(out.jobId)
    if (record.taskRoundTripMs !== undefined) roundTripP50.push(record.taskRoundTripMs.p50)
  }
} finally {
  await mesh.stop()
}

const cfg = defaultConfig()
const sim = runOnce({ arch: 'p2p', nodes, workload: 'tiny', tasks, jobs: 1, seed: 1, faults: emptyFaultPlan(), cfg, taskMs: 0, uniformSlots: slots })
const simMs = sim.metrics.makespanS * 1000
const realMs = median(measuredMs)
const perTask = (ms: number): number => ms * nodes * slots / tasks
const rel = (a: number, b: number): string => `${((a - b) / b * 100).toFixed(1)}%`
const fittedOverheadMs = cfg.node.taskOverheadMs * perTask(realMs) / Math.max(1e-9, perTask(simMs))
process.stdout.write([
  `Calibration: ${tasks} empty tasks, one job, ${nodes} nodes x ${slots} slots on this machine (load average ${load.toFixed(1)} at start), ${runs} real runs`,
  '',
  '| measure | real mesh (median) | simulator | relative error |',
  '|---|---:|---:|---:|',
  `| makespan, ms | ${realMs.toFixed(0)} | ${simMs.toFixed(0)} | ${rel(simMs, realMs)} |`,
  `| per-task overhead (makespan x slots / tasks), ms | ${perTask(realMs).toFixed(3)} | ${perTask(simMs).toFixed(3)} | ${rel(perTask(simMs), perTask(realMs))} |`,
  `| task round trip p50 (real, coordinator-measured), ms | ${median(roundTripP50).toFixed(3)} | — | — |`,
  '',
  `Simulator taskOverheadMs is ${cfg.node.taskOverheadMs} ms; about ${fittedOverheadMs.toFixed(2)} ms would match this machine's per-task overhead.`,
  '',
].join('\n'))
