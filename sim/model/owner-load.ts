import { Rng } from '../engine/random.js'
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
      node.ownerBusy = !node.ownerBusy
      if (node.up) w.loadChanged(node)
      node.lastMetricsMs = -Infinity // report on the next tick in every transport
      w.sim.after(rng.exponential(node.ownerBusy ? ownerBusyMeanMs : ownerIdleMeanMs), toggle)
    }
    // Start in the stationary mix of busy and idle.
    node.ownerBusy = rng.chance(ownerBusyMeanMs / (ownerBusyMeanMs + ownerIdleMeanMs))
    w.sim.after(rng.exponential(node.ownerBusy ? ownerBusyMeanMs : ownerIdleMeanMs), toggle)
  }
}
