import { Rng } from '../engine/random.js'
import type { FaultEvent, FaultPlan } from '../faults.js'
import { WARMUP_MS } from '../world.js'

// A deterministic-simulation-testing scenario drawn from a seed: a safety phase of random
// faults (coordinator and node crashes, a partition, message loss, churn), then at healAtMs
// every fault ends and the liveness phase begins.

export interface DstScenario {
  faults: FaultPlan
  healAtMs: number
}

export const DST_FAULT_WINDOW_MS = 40_000

export function dstScenario (seed: number): DstScenario {
  const rng = Rng.stream(seed, 'dst-scenario')
  const start = WARMUP_MS + 500
  const at = (): number => Math.round(start + rng.uniform(0, DST_FAULT_WINDOW_MS - 5000))
  const events: FaultEvent[] = []
  const coordinatorCrashes = 1 + rng.int(2)
  for (let i = 0; i < coordinatorCrashes; i++) events.push({ kind: 'crash-coordinator', atMs: at() })
  const nodeCrashes = rng.int(3)
  for (let i = 0; i < nodeCrashes; i++) events.push({ kind: 'crash-node', atMs: at(), count: 1 + rng.int(2) })
  if (rng.chance(0.7)) {
    const fromMs = at()
    events.push({ kind: 'partition', fromMs, untilMs: fromMs + Math.round(rng.uniform(3000, 15_000)), fraction: Math.round(rng.uniform(0.15, 0.45) * 100) / 100 })
  }
  if (rng.chance(0.3)) events.push({ kind: 'crash-worker', atMs: at(), count: 1 + rng.int(3) })
  events.sort((a, b) => (a.kind === 'partition' ? a.fromMs : a.atMs) - (b.kind === 'partition' ? b.fromMs : b.atMs))
  return {
    faults: {
      events,
      loss: rng.chance(0.6) ? Math.round(rng.uniform(0, 0.05) * 1000) / 1000 : 0,
      churnPerSec: rng.chance(0.3) ? 0.002 : 0,
      restartAfterMs: Math.round(rng.uniform(3000, 20_000)),
    },
    healAtMs: start + DST_FAULT_WINDOW_MS,
  }
}
