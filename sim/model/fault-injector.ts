import { Rng } from '../engine/random.js'
import type { FaultPlan } from '../faults.js'
import type { World } from '../world.js'
import type { SimNode } from './sim-node.js'
import { executorCrash } from './worker.js'

// Turns a FaultPlan into timed events. Choices of victims come from their own seeded stream.
// With `healAtMs` (DST liveness phase) every fault ends then: partitions heal, loss and churn
// stop, and every node that is down restarts.

export function scheduleFaults (w: World, plan: FaultPlan, healAtMs: number | undefined): void {
  const rng = Rng.stream(w.seed, 'faults')
  const restartLater = (node: SimNode, afterMs: number | undefined): void => {
    if (afterMs === undefined) return
    const epoch = node.epoch
    w.sim.after(afterMs, () => { if (node.epoch === epoch && !node.up) w.restart(node) })
  }
  const victims = (count: number, excludeMaster: boolean): SimNode[] => {
    const candidates = w.nodes.filter(n => n.up && !(excludeMaster && w.arch.election === 'fixed' && n.index === w.masterIndex))
    const k = count < 1 ? Math.max(1, Math.round(count * w.nodes.length)) : count
    return rng.sample(candidates.length, k).map(i => candidates[i] as SimNode)
  }
  const healed = (): boolean => healAtMs !== undefined && w.sim.nowMs >= healAtMs
  for (const e of plan.events) {
    switch (e.kind) {
      case 'crash-coordinator':
        w.sim.at(e.atMs, () => {
          if (healed()) return
          const node = busiestCoordinator(w)
          if (node === undefined) return
          w.crash(node)
          restartLater(node, plan.restartAfterMs)
        })
        break
      case 'crash-node':
        w.sim.at(e.atMs, () => {
          if (healed()) return
          for (const node of victims(e.count, true)) {
            w.crash(node)
            restartLater(node, plan.restartAfterMs)
          }
        })
        break
      case 'crash-worker':
        w.sim.at(e.atMs, () => {
          if (healed()) return
          for (const node of victims(e.count, true)) {
            if (w.arch.supervised) executorCrash(w, node)
            else {
              w.crash(node)
              restartLater(node, w.cfg.protocol.workerRestartMs)
            }
          }
        })
        break
      case 'leave':
        w.sim.at(e.atMs, () => { if (!healed()) for (const node of victims(e.count, true)) w.leave(node) })
        break
      case 'partition':
        w.sim.at(e.fromMs, () => {
          if (healed()) return
          const k = Math.max(1, Math.round(e.fraction * w.nodes.length))
          for (const i of rng.sample(w.nodes.length, k)) w.net.side[i] = 1
        })
        w.sim.at(healAtMs === undefined ? e.untilMs : Math.min(e.untilMs, healAtMs), () => w.net.side.fill(0))
        break
    }
  }
  if (plan.churnPerSec > 0) {
    const ratePerMs = plan.churnPerSec * w.nodes.length / 1000
    const next = (): void => {
      if (healed()) return
      const up = victims(1, true)[0]
      if (up !== undefined) {
        w.crash(up)
        restartLater(up, plan.restartAfterMs ?? 30_000)
      }
      w.sim.after(rng.exponential(1 / ratePerMs), next)
    }
    w.sim.after(rng.exponential(1 / ratePerMs), next)
  }
  if (healAtMs !== undefined) {
    w.sim.at(healAtMs, () => {
      w.net.loss = 0
      w.net.side.fill(0)
      for (const node of w.nodes) if (!node.up) w.restart(node)
    })
  }
}

/** The node coordinating the most running jobs (the master under a fixed election). */
function busiestCoordinator (w: World): SimNode | undefined {
  if (w.arch.election === 'fixed') {
    const master = w.nodes[w.masterIndex]
    return master?.up === true ? master : undefined
  }
  let best: SimNode | undefined
  let most = 0
  for (const node of w.nodes) {
    const jobs = w.coordinatorOf(node)?.core.size ?? 0
    if (node.up && jobs > most) {
      best = node
      most = jobs
    }
  }
  return best
}
