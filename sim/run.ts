import { performance } from 'node:perf_hooks'
import { describeFaults } from './faults.js'
import { summarize, type RunMetrics } from './metrics/summary.js'
import { World, type RunSpec } from './world.js'

// One run: build the world, run it to the end, summarise. Wall time is measured only here,
// for the speed figures, and never enters the report.

export interface RunOutput {
  metrics: RunMetrics
  world: World
  wallMs: number
}

export function runOnce (spec: RunSpec): RunOutput {
  const t0 = performance.now()
  const world = new World(spec)
  world.run()
  const metrics = summarize(world, describeFaults(spec.faults))
  return { metrics, world, wallMs: performance.now() - t0 }
}
