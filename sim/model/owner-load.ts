import { OwnerPolicy, ownerPolicyConfig, type OwnerPolicyEffect } from '../../src/jobs/owner-policy.js'
import { Rng } from '../engine/random.js'
import type { SimNode } from './sim-node.js'
import { giveBackTasks, pauseTasks, resumeTasks } from './worker.js'
import type { World } from '../world.js'

// Owners' own use of their machines comes and goes: on a fraction of the nodes, idle and busy
// periods alternate (exponential lengths). While busy the owner takes ownerLoad of the CPU:
// tasks started then run slower, and above ownerAcceptMax the node stops accepting new tasks
// (its vector says `accepting: false`) — the spare capacity the mesh harvests shrinks.

export function scheduleOwners (w: World, fraction: number, ownerOn: Uint8Array): void {
  if (!(fraction > 0)) return
  const rng = Rng.stream(w.seed, 'owners')
  const { ownerBusyMeanMs, ownerIdleMeanMs } = w.cfg.node
  for (const node of w.nodes) {
    if (!rng.chance(fraction)) continue
    ownerOn[node.index] = 1
    const toggle = (): void => {
      w.accountOwner(node)
      node.ownerBusy = !node.ownerBusy
      if (node.up) w.loadChanged(node)
      node.lastMetricsMs = -Infinity // report on the next tick in every transport
      w.sim.after(rng.exponential(node.ownerBusy ? ownerBusyMeanMs : ownerIdleMeanMs), toggle)
    }
    // Start in the stationary mix of busy and idle.
    node.ownerBusy = rng.chance(ownerBusyMeanMs / (ownerBusyMeanMs + ownerIdleMeanMs))
    w.sim.after(rng.exponential(node.ownerBusy ? ownerBusyMeanMs : ownerIdleMeanMs), toggle)
    if (w.spec.ownerPolicy !== undefined) runPolicy(w, node, w.spec.ownerPolicy)
  }
}

/**
 * The owner-policy core on a simulated machine, as src/node/host/owner-guard.ts binds it: a sample
 * of the owner's load every second, effects performed on the node's executors.
 */
const SAMPLE_MS = 1000
function runPolicy (w: World, node: SimNode, name: 'desktop' | 'dedicated'): void {
  node.policy = new OwnerPolicy(ownerPolicyConfig(name))
  // The local time of day does not matter without --hours: noon.
  const sample = (): void => {
    if (node.up && node.policy !== undefined) {
      const effects = node.policy.step({ type: 'sample', ownerCpuLoad: w.ownerLoadOf(node), minuteOfDay: 720 }, w.sim.nowMs)
      for (const e of effects) applyEffect(w, node, e)
    }
    w.sim.after(SAMPLE_MS, sample)
  }
  w.sim.after(SAMPLE_MS, sample)
}

function applyEffect (w: World, node: SimNode, e: OwnerPolicyEffect): void {
  switch (e.type) {
    case 'accepting':
      node.lastMetricsMs = -Infinity // report on the next tick in every transport
      w.loadChanged(node)
      break
    case 'pause': pauseTasks(w, node); break
    case 'resume': resumeTasks(w, node); break
    case 'giveBack': giveBackTasks(w, node); break
  }
}
