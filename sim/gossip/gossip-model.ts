import type { Rng } from '../engine/random.js'
import type { Simulation } from '../engine/simulation.js'
import type { Network } from '../net/network.js'
import type { SimNode } from '../model/sim-node.js'

// How gossip is modelled (see sim/README.md). Every node runs its own Membership core to
// publish its vector (real versions, real publish timing). Delivering every vector to every
// node is O(N^2) per round (10^8 at 10,000 nodes), so:
//  - dissemination cost is counted for all nodes: each published message is relayed by every
//    node to about D-1 mesh peers, so each node sends and receives ~(D-1) copies of it;
//  - the inbound side of the core runs only on observers (coordinators, replica-set members,
//    submitters and a few probes). An observer tracks every peer while N-1 <= viewPeersMax,
//    else a seeded sample of viewPeersMax peers plus the peers its roles need. A tracked
//    peer's vector reaches it after ~log_D(N) hops of network latency, unless the two are
//    partitioned (packet loss delays it by retransmissions). At most one vector per peer per observerDeliveryGapMs
//    is delivered (the newest, as gossip keeps only the newest version useful); a vector that
//    announces a refutation, a restart or a leave is always delivered;
//  - suspect notices go to the suspected node's core (so it can refute) and its trackers.

export class GossipModel {
  /** publisher index -> observers tracking it (insertion order, deterministic). */
  private readonly trackers: Array<Set<number> | undefined>
  private readonly lastDeliveredMs: Float64Array
  private readonly latest: Array<Uint8Array | undefined>
  private readonly lastIncarnation: Float64Array
  readonly hops: number
  readonly degree: number
  publishes = 0
  publishBytes = 0
  deliveries = 0

  constructor (
    private readonly sim: Simulation,
    _rng: Rng,
    private readonly net: Network,
    private readonly nodes: SimNode[],
    private readonly deliverGapMs: number,
    degree: number,
    private readonly deliver: (observer: SimNode, from: number, data: Uint8Array) => void,
  ) {
    const n = nodes.length
    this.trackers = new Array(n)
    this.lastDeliveredMs = new Float64Array(n).fill(-Infinity)
    this.lastIncarnation = new Float64Array(n)
    this.latest = new Array(n)
    this.degree = Math.max(1, Math.min(degree, n - 1))
    this.hops = n <= 2 ? 1 : Math.max(1, Math.ceil(Math.log(n) / Math.log(Math.max(2, this.degree))))
  }

  /** Per node: gossip messages sent plus received per published message. */
  get perNodeCopies (): number { return this.nodes.length <= 1 ? 0 : 2 * Math.max(1, this.degree - 1) }

  track (observer: number, peer: number): boolean {
    if (observer === peer) return false
    let set = this.trackers[peer]
    if (set === undefined) {
      set = new Set()
      this.trackers[peer] = set
    }
    if (set.has(observer)) return false
    set.add(observer)
    return true
  }

  untrackAll (observer: SimNode): void {
    for (const p of observer.tracked) this.trackers[p]?.delete(observer.index)
  }

  /** The newest vector `peer` published (for warming a new observer's view). */
  latestVector (peer: number): Uint8Array | undefined { return this.latest[peer] }

  forgetPublisher (peer: number): void {
    this.latest[peer] = undefined
    this.lastDeliveredMs[peer] = -Infinity
  }

  /** A vector published by `origin`. `incarnation` changes force delivery (refutation, restart). */
  publishVector (origin: number, data: Uint8Array, incarnation: number, force: boolean): void {
    this.publishes++
    this.publishBytes += data.byteLength
    this.latest[origin] = data
    const now = this.sim.nowMs
    const changed = incarnation !== this.lastIncarnation[origin]
    this.lastIncarnation[origin] = incarnation
    if (!force && !changed && now - (this.lastDeliveredMs[origin] as number) < this.deliverGapMs) return
    this.lastDeliveredMs[origin] = now
    const set = this.trackers[origin]
    if (set === undefined) return
    for (const o of set) this.sendTo(origin, o, data)
  }

  /** A suspect notice about `suspect`: to the suspect itself and to its trackers. */
  publishSuspect (origin: number, suspect: number, data: Uint8Array): void {
    this.publishes++
    this.publishBytes += data.byteLength
    if (suspect !== origin) this.sendTo(origin, suspect, data)
    const set = this.trackers[suspect]
    if (set === undefined) return
    for (const o of set) if (o !== origin) this.sendTo(origin, o, data)
  }

  private sendTo (origin: number, to: number, data: Uint8Array): void {
    const node = this.nodes[to]
    if (node === undefined || !node.up || !this.net.connected(origin, to)) return
    // Each hop is a stream: a lost packet costs a retransmission there (the first of the ~D
    // copies to arrive wins, so this slightly overstates the delay).
    let delayMs = 0
    for (let h = 0; h < this.hops; h++) delayMs += this.net.latencyMs() + (this.net.loss > 0 ? this.net.retransmitDelayMs() : 0)
    const epoch = node.epoch
    this.deliveries++
    this.sim.after(delayMs, () => {
      if (node.epoch === epoch && node.up && node.observer) this.deliver(node, origin, data)
      else if (node.epoch === epoch && node.up && data[6] === 0x73) this.deliver(node, origin, data) // a suspect notice reaches a non-observer so it can refute
    })
  }
}
