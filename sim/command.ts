import { resolve } from 'node:path'
import { ARCH_NAMES, defaultConfig, type ArchName } from './config.js'
import { describeFaults, parseFaults } from './faults.js'
import { runDst } from './dst/run-dst.js'
import type { RunMetrics } from './metrics/summary.js'
import { writeReport } from './report/write-report.js'
import { runOnce } from './run.js'
import { SimUsageError, simUsage } from './cli-args.js'
import { buildWorkload, isWorkloadName, WORKLOAD_NAMES, type WorkloadName } from './workload/workloads.js'
import { Rng } from './engine/random.js'
import { GOSSIP_NOTE } from './gossip/note.js'
import type { Injection } from './world.js'
import type { OwnerPolicyName } from '../src/jobs/owner-policy.js'

// `meshwork sim …` / `npm run sim`: run the simulator for one or more architectures and
// sizes and write the report, or run DST seeds. The options are plain strings and numbers.

export interface SimOptions {
  /** 'p2p' | 'master-slave' | 'sync-db' | 'state-daemon' | 'all', or a comma list. Default p2p. */
  arch?: string
  /** One size (default 100). Ignored when `sweep` is given. */
  nodes?: number
  /** Comma-separated sizes, e.g. '10,100,1000,10000'. */
  sweep?: string
  /** tiny | cpu | stragglers | multi | buildfarm | owner (default multi). */
  workload?: string
  /** Fault spec, see sim/faults.ts (default none; in dst mode the scenario comes from the seed). */
  faults?: string
  /** Default 1. */
  seed?: number
  /** Report directory (default sim-report). */
  out?: string
  /** 'normal' (default) or 'dst'. */
  mode?: string
  /** Total tasks / jobs (override the workload's defaults). */
  tasks?: number
  jobs?: number
  /** Peers an observer's Membership core tracks at scale (default 1000). */
  viewPeers?: number
  /** dst: how many seeds, from `seed` on (default 1). */
  runs?: number
  /** Write charts (default true). */
  charts?: boolean
  /** Deliberate bug for checker tests: 'wrong-result' | 'double-publish'. */
  inject?: string
  /**
   * Owner policy of machines with an owner: desktop | dedicated | both (side by side). Default:
   * both for the owner workload, none (the accept-threshold model) otherwise.
   */
  policy?: string
  help?: boolean
}

export interface SimIo { log: (line: string) => void }

export interface SimOutcome {
  exitCode: number
  runs: RunMetrics[]
  files: string[]
  failedSeeds: number[]
}

const SIZES_MAX = 16
const RUNS_MAX = 10_000

function parseArchs (text: string | undefined): ArchName[] {
  const t = (text ?? 'p2p').trim()
  if (t === 'all') return [...ARCH_NAMES]
  const list = t.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const a of list) if (!(ARCH_NAMES as readonly string[]).includes(a)) throw new SimUsageError(`--arch: unknown architecture "${a}" (use ${ARCH_NAMES.join(', ')} or all)`)
  if (list.length === 0) throw new SimUsageError('--arch: give an architecture or "all"')
  return list as ArchName[]
}

function parseSizes (opts: SimOptions): number[] {
  if (opts.sweep === undefined) {
    const n = opts.nodes ?? 100
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new SimUsageError(`--nodes must be from 1 to 100000, got ${n}`)
    return [n]
  }
  const parts = opts.sweep.split(',').map(s => s.trim()).filter(s => s !== '')
  if (parts.length === 0 || parts.length > SIZES_MAX) throw new SimUsageError(`--sweep: give 1 to ${SIZES_MAX} sizes, like 10,100,1000`)
  return parts.map(p => {
    const n = Number(p)
    if (!/^\d+$/.test(p) || n < 1 || n > 100_000) throw new SimUsageError(`--sweep: "${p}" is not a node count from 1 to 100000`)
    return n
  })
}

function parseWorkload (text: string | undefined): WorkloadName {
  const w = text ?? 'multi'
  if (!isWorkloadName(w)) throw new SimUsageError(`--workload: unknown workload "${w}" (use ${WORKLOAD_NAMES.join(', ')})`)
  return w
}

function parsePolicies (text: string | undefined, workload: WorkloadName): Array<OwnerPolicyName | undefined> {
  const t = text ?? (workload === 'owner' ? 'both' : undefined)
  if (t === undefined) return [undefined]
  if (t === 'both') return ['desktop', 'dedicated']
  if (t === 'desktop' || t === 'dedicated') return [t]
  throw new SimUsageError(`--policy must be desktop, dedicated or both, got "${t}"`)
}

function parseInject (text: string | undefined): Injection {
  if (text === undefined) return undefined
  if (text === 'wrong-result' || text === 'double-publish') return text
  throw new SimUsageError(`--inject: unknown bug "${text}" (use wrong-result or double-publish)`)
}

export function commandLine (opts: SimOptions): string {
  const parts = ['meshwork sim']
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || k === 'help' || k === 'charts' || k === 'out') continue
    parts.push(`--${k.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)} ${String(v)}`)
  }
  return parts.join(' ')
}

export async function simCommand (opts: SimOptions, io: SimIo = { log: line => process.stdout.write(line + '\n') }): Promise<SimOutcome> {
  if (opts.help === true) {
    io.log(simUsage())
    return { exitCode: 0, runs: [], files: [], failedSeeds: [] }
  }
  const archs = parseArchs(opts.arch)
  const sizes = parseSizes(opts)
  const workload = parseWorkload(opts.workload)
  const seed = opts.seed ?? 1
  const inject = parseInject(opts.inject)
  const mode = opts.mode ?? 'normal'
  if (mode !== 'normal' && mode !== 'dst') throw new SimUsageError(`--mode must be normal or dst, got "${mode}"`)
  if (opts.viewPeers !== undefined && !(opts.viewPeers >= 1)) throw new SimUsageError('--view-peers must be at least 1')
  const outDir = resolve(opts.out ?? 'sim-report')
  if (mode === 'dst') return runDstSeeds(opts, archs, sizes, workload, seed, inject, io)

  const faults = parseFaults(opts.faults)
  const policies = parsePolicies(opts.policy, workload)
  const runs: RunMetrics[] = []
  for (const n of sizes) {
    for (const arch of archs) for (const policy of policies) {
      const cfg = defaultConfig()
      if (opts.viewPeers !== undefined) cfg.scale.viewPeersMax = opts.viewPeers
      const out = runOnce({ arch, nodes: n, workload, seed, faults, cfg, ...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}), ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}), ...(inject !== undefined ? { inject } : {}), ...(policy !== undefined ? { ownerPolicy: policy } : {}) })
      const m = out.metrics
      runs.push(m)
      if (policy !== undefined) io.log(`${m.arch.padEnd(20)} owner busy ${m.ownerBusyS.toFixed(0)} node-s, owner time stolen ${m.ownerStolenCpuS.toFixed(1)} CPU-s, tasks done ${m.tasksDone}`)
      io.log(`${m.arch.padEnd(12)} N=${String(n).padEnd(6)} ${m.stopReason.padEnd(10)} jobs ${m.jobsDone}/${m.jobs} tasks ${m.tasks} makespan ${m.makespanS.toFixed(2)} s ` +
        `throughput ${m.throughputTasksPerS.toFixed(0)}/s util ${m.utilisation.toFixed(3)} | ${m.events} events in ${(out.wallMs / 1000).toFixed(1)} s wall: ` +
        `${Math.round(m.events / (out.wallMs / 1000))} events/s, ${(m.simSeconds / (out.wallMs / 1000)).toFixed(2)} sim-s per wall-s`)
      for (const v of m.violations) io.log(`  violation: ${v}`)
    }
  }
  const description = buildWorkload(workload, sizes[0] as number, Rng.stream(seed, 'workload'), 0).description
  const files = await writeReport(outDir, runs, {
    title: 'Meshwork simulator report',
    command: commandLine(opts),
    workload,
    workloadDescription: description,
    faults: describeFaults(faults),
    seed,
    gossipNote: GOSSIP_NOTE,
  }, opts.charts !== false)
  io.log(`report: ${outDir}/report.md (${files.length} files)`)
  const violated = runs.some(r => r.violations.length > 0)
  return { exitCode: violated ? 1 : 0, runs, files, failedSeeds: [] }
}

async function runDstSeeds (opts: SimOptions, archs: ArchName[], sizes: number[], workload: WorkloadName, seed: number, inject: Injection, io: SimIo): Promise<SimOutcome> {
  const count = opts.runs ?? 1
  if (!Number.isInteger(count) || count < 1 || count > RUNS_MAX) throw new SimUsageError(`--runs must be from 1 to ${RUNS_MAX}`)
  const failedSeeds: number[] = []
  const runs: RunMetrics[] = []
  for (let s = seed; s < seed + count; s++) {
    for (const arch of archs) {
      for (const n of sizes) {
        const out = runDst({ arch, nodes: n, workload, seed: s, ...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}), ...(inject !== undefined ? { inject } : {}) })
        runs.push(out.metrics)
        if (out.check.ok) {
          io.log(`DST PASS seed=${s} ${arch} N=${n}: ${out.metrics.jobsDone}/${out.metrics.jobs} jobs done, ${out.check.lostJobs} lost by the scenario (${out.check.lostTasks} tasks), faults ${out.metrics.faults}`)
        } else {
          failedSeeds.push(s)
          io.log(`DST FAIL seed=${s} ${arch} N=${n}: ${out.check.failures.length} failure(s)`)
          for (const f of out.check.failures.slice(0, 10)) io.log(`  ${f}`)
          io.log(`  replay: ${out.replay}`)
        }
      }
    }
  }
  io.log(failedSeeds.length === 0 ? `DST: all ${count * archs.length * sizes.length} runs passed` : `DST: failing seeds ${[...new Set(failedSeeds)].join(',')}`)
  return { exitCode: failedSeeds.length === 0 ? 0 : 1, runs, files: [], failedSeeds }
}
