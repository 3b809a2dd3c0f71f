import type { Rng } from '../engine/random.js'
import type { Simulation } from '../engine/simulation.js'
import type { NetworkConfig } from '../config.js'

// The network: lognormal latency, per-node NIC serialisation (egress at the sender, ingress
// at the receiver, so a master receiving from thousands of workers queues on its own link),
// packet loss, and partitions as a side number per node (different sides cannot talk).
// Meshwork's messages travel on long-lived streams (TCP), so a lost packet is retransmitted
// after a retransmission timeout rather than dropped, and each link delivers in order (a
// retransmission holds up what follows it). Messages are dropped only across a partition or
// to a node that is down. Every operation is O(1) (one map lookup per message for the order).

export class Network {
  readonly msgsOut: Float64Array
  readonly msgsIn: Float64Array
  readonly bytesOut: Float64Array
  readonly bytesIn: Float64Array
  private readonly egressFreeAtMs: Float64Array
  private readonly ingressFreeAtMs: Float64Array
  readonly side: Int32Array
  loss = 0
  dropped = 0
  retransmits = 0
  /** Last arrival per (from, to) link: streams deliver in order. */
  private readonly lastArrivalMs = new Map<number, number>()
  static readonly RTO_MS = 200

  constructor (private readonly sim: Simulation, private readonly rng: Rng, readonly cfg: NetworkConfig, endpoints: number) {
    this.msgsOut = new Float64Array(endpoints)
    this.msgsIn = new Float64Array(endpoints)
    this.bytesOut = new Float64Array(endpoints)
    this.bytesIn = new Float64Array(endpoints)
    this.egressFreeAtMs = new Float64Array(endpoints)
    this.ingressFreeAtMs = new Float64Array(endpoints)
    this.side = new Int32Array(endpoints)
  }

  latencyMs (): number { return this.rng.lognormal(this.cfg.latencyMedianMs, this.cfg.latencySigma) }

  /** Packet loss on a stream: each loss costs a retransmission timeout, doubling (bounded). */
  retransmitDelayMs (): number {
    let delayMs = 0
    let rto = Network.RTO_MS
    for (let i = 0; i < 6 && this.rng.chance(this.loss); i++) {
      this.retransmits++
      delayMs += rto
      rto *= 2
    }
    return delayMs
  }

  connected (a: number, b: number): boolean { return this.side[a] === this.side[b] }

  /**
   * Sends `bytes` from `from` to `to`; `deliver` runs at arrival unless the message is lost or
   * the two are partitioned. Returns false when it was dropped at once.
   */
  send (from: number, to: number, bytes: number, deliver: () => void): boolean {
    const size = bytes + this.cfg.headerBytes
    this.msgsOut[from] = (this.msgsOut[from] as number) + 1
    this.bytesOut[from] = (this.bytesOut[from] as number) + size
    if (!this.connected(from, to)) {
      this.dropped++
      return false
    }
    const now = this.sim.nowMs
    const wireMs = size / this.cfg.bandwidthBytesPerMs
    const departMs = Math.max(now, this.egressFreeAtMs[from] as number) + wireMs
    this.egressFreeAtMs[from] = departMs
    let arriveMs = Math.max(departMs + this.latencyMs() + this.retransmitDelayMs(), this.ingressFreeAtMs[to] as number) + wireMs
    this.ingressFreeAtMs[to] = arriveMs
    const link = from * this.msgsOut.length + to
    arriveMs = Math.max(arriveMs, this.lastArrivalMs.get(link) ?? 0)
    this.lastArrivalMs.set(link, arriveMs)
    this.sim.at(arriveMs, () => {
      this.msgsIn[to] = (this.msgsIn[to] as number) + 1
      this.bytesIn[to] = (this.bytesIn[to] as number) + size
      deliver()
    })
    return true
  }
}
