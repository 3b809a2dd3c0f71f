import { defaultConfig } from '../config.js'
import type { ArchName } from '../config.js'
import { describeFaults } from '../faults.js'
import { summarize, type RunMetrics } from '../metrics/summary.js'
import type { WorkloadName } from '../workload/workloads.js'
import { World, type Injection } from '../world.js'
import { checkRun, type CheckResult } from './checkers.js'
import { dstScenario } from './scenario.js'

// One DST run: the scenario drawn from the seed, the safety phase, the heal, the liveness
// phase (bounded by the stall detector and timeMsMax), then the checkers.

export interface DstOptions {
  arch: ArchName
  nodes: number
  workload: WorkloadName
  seed: number
  tasks?: number
  inject?: Injection
}

export interface DstOutcome {
  seed: number
  check: CheckResult
  metrics: RunMetrics
  replay: string
}

export const DST_TIME_MS_MAX = 900_000

export function runDst (opts: DstOptions): DstOutcome {
  const scenario = dstScenario(opts.seed)
  const cfg = defaultConfig()
  cfg.timeMsMax = DST_TIME_MS_MAX
  const world = new World({
    arch: opts.arch, nodes: opts.nodes, workload: opts.workload, seed: opts.seed, faults: scenario.faults, cfg, healAtMs: scenario.healAtMs,
    ...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}),
    ...(opts.inject !== undefined ? { inject: opts.inject } : {}),
  })
  world.run()
  const check = checkRun(world)
  const replay = `node dist/sim/cli.js --mode dst --seed ${opts.seed} --arch ${opts.arch} --nodes ${opts.nodes} --workload ${opts.workload}` +
    (opts.tasks !== undefined ? ` --tasks ${opts.tasks}` : '') + (opts.inject !== undefined ? ` --inject ${opts.inject}` : '')
  return { seed: opts.seed, check, metrics: summarize(world, describeFaults(scenario.faults)), replay }
}
