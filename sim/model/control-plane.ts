import type { Simulation } from '../engine/simulation.js'

// A node's control-plane CPU: one core that handles incoming control messages (vectors,
// task results, store rows) in FIFO order, each costing its service time. This is where a
// master with thousands of workers becomes the bottleneck. O(1) per message.

export class ControlPlane {
  private freeAtMs = 0
  busyUs = 0
  dropped = 0

  constructor (private readonly sim: Simulation, private readonly backlogMsMax: number) {}

  /** Work queued ahead of a new message, in ms. */
  backlogMs (): number { return Math.max(0, this.freeAtMs - this.sim.nowMs) }

  /** Runs `fn` once `costUs` of CPU has been spent on it after everything queued before it; drops it past the backlog bound. */
  handle (costUs: number, fn: () => void): boolean {
    const now = this.sim.nowMs
    const start = Math.max(now, this.freeAtMs)
    if (start - now > this.backlogMsMax) {
      this.dropped++
      return false
    }
    this.freeAtMs = start + costUs / 1000
    this.busyUs += costUs
    this.sim.at(this.freeAtMs, fn)
    return true
  }

  reset (): void { this.freeAtMs = this.sim.nowMs }
}
