import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { defaultConfig } from './config.js'
import { emptyFaultPlan } from './faults.js'
import { runOnce } from './run.js'

// npm run bench:sim [-- --nodes 10000 --tasks 1000000 --jobs 20 --view-peers 128]
// The scale benchmark (not a test): p2p, N nodes, T tiny tasks, within 120 s of wall time.
// Prints events/s and simulated seconds per wall second, plus CPU time, because on a shared
// machine wall time also counts other processes (the load average is printed too).

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}
const nodes = arg('nodes', 10_000)
const tasks = arg('tasks', 1_000_000)
const jobs = arg('jobs', 20)
const viewPeers = arg('view-peers', 128)
const budgetS = arg('budget-s', 120)

const cfg = defaultConfig()
cfg.scale.viewPeersMax = viewPeers
const load = loadavg()[0] ?? 0
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const out = runOnce({ arch: 'p2p', nodes, workload: 'tiny', tasks, jobs, seed: 1, faults: emptyFaultPlan(), cfg })
const wallS = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const cpuS = (cpu.user + cpu.system) / 1e6
const m = out.metrics
const ok = m.stopReason === 'done' && m.jobsDone === m.jobs && wallS <= budgetS
process.stdout.write([
  `sim benchmark: p2p, ${nodes} nodes, ${tasks} tasks in ${jobs} jobs (tiny), view ${viewPeers} peers, seed 1`,
  `  outcome: ${m.stopReason}, ${m.jobsDone}/${m.jobs} jobs, ${m.taskExecutions} task executions, simulated ${m.simSeconds.toFixed(2)} s (makespan ${m.makespanS.toFixed(2)} s)`,
  `  events: ${m.events}; wall ${wallS.toFixed(1)} s; CPU ${cpuS.toFixed(1)} s; load average at start ${load.toFixed(1)} on this machine`,
  `  speed: ${Math.round(m.events / wallS)} events/s wall (${Math.round(m.events / cpuS)} per CPU-s), ${(m.simSeconds / wallS).toFixed(3)} sim-s per wall-s`,
  `  ${ok ? 'PASS' : 'FAIL'}: ${wallS <= budgetS ? 'within' : 'over'} the ${budgetS} s budget`,
  '',
].join('\n'))
process.exitCode = ok ? 0 : 1
