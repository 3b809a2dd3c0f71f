import { defaultConfig, type ArchName } from '../../sim/config.js'
import { emptyFaultPlan, parseFaults } from '../../sim/faults.js'
import type { WorkloadName } from '../../sim/workload/workloads.js'
import { World, type RunSpec } from '../../sim/world.js'

// Small deterministic worlds for the simulator tests.

export function spec (arch: ArchName, nodes: number, workload: WorkloadName, opts: { faults?: string, tasks?: number, jobs?: number, seed?: number } = {}): RunSpec {
  return {
    arch, nodes, workload, seed: opts.seed ?? 7, cfg: defaultConfig(),
    faults: opts.faults === undefined ? emptyFaultPlan() : parseFaults(opts.faults),
    ...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}),
    ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
  }
}

export function run (s: RunSpec): World {
  const w = new World(s)
  w.run()
  return w
}
