import { ReplicaHolder, type HolderEffect } from '../../src/jobs/replica-holder.js'
import type { SimMessage } from '../net/messages.js'
import { outcomeOf } from './coordinator.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'

// This node's part in the replica sets of jobs: the same ReplicaHolder core the daemon's
// ReplicaStore (src/node/daemon/job-replicas.ts) binds, fed from this node's membership view and the
// simulated network. Only the I/O differs: there is no code to store, and a claim is counted.

type Msg<T extends SimMessage['t']> = Extract<SimMessage, { t: T }>

export class ReplicaBinding {
  readonly holder: ReplicaHolder

  constructor (private readonly w: World, private readonly node: SimNode) {
    this.holder = new ReplicaHolder({
      selfId: node.id,
      liveBoot: peerId => w.liveBoot(node, w.indexOf(peerId)),
      alivePeers: () => w.activePeerIds(node),
      coordinates: jobId => w.coordinatorOf(node)?.core.coordinates(jobId) ?? false,
    }, { claimTimeoutMs: w.cfg.protocol.claimTimeoutMs, retentionMs: w.cfg.protocol.resultRetentionMs })
  }

  private get now (): number { return this.w.sim.nowMs }
  private id (peer: number): string { return this.w.nodes[peer]?.id ?? '' }

  onReplica (from: number, m: Msg<'job.replica'>): void {
    // No code cache to fill: the replica is stored as it arrives.
    if (this.holder.replicaArriving(this.id(from), m, this.now)) this.apply(this.holder.replicaStored(this.id(from), m, this.now))
  }

  onProgress (from: number, m: Msg<'job.progress'>): void { this.apply(this.holder.onProgress(this.id(from), m, this.now)) }
  onClaim (from: number, m: Msg<'job.claim'>): void { this.apply(this.holder.onClaim(this.id(from), m)) }
  onClaimReply (from: number, m: Msg<'job.claimReply'>): void { this.apply(this.holder.onClaimReply(this.id(from), m, this.now)) }
  onConfirm (from: number, m: Msg<'job.confirm'>): void { this.apply(this.holder.onConfirm(this.id(from), m, this.now)) }
  onCommit (from: number, m: Msg<'job.commit'>): void { this.apply(this.holder.onCommit(this.id(from), m, this.now)) }
  onTakeover (from: number, m: Msg<'job.takeover'>): void { this.apply(this.holder.onTakeover(this.id(from), m)) }

  /** Periodic: claims for jobs whose coordinator died or that nobody coordinates. */
  tick (): void { this.apply(this.holder.tick(this.now)) }

  private apply (effects: HolderEffect[]): void {
    const w = this.w
    for (const e of effects) {
      switch (e.type) {
        case 'send': w.send(this.node.index, w.indexOf(e.to), e.message as SimMessage); break
        case 'takeOver': w.coordinatorBinding(this.node).adopt(e.data); break
        case 'yield': w.coordinatorOf(this.node)?.yieldJob(e.jobId, e.term); break
        case 'record':
          // A decided record this member makes known: for the ledger, the job's outcome (if first).
          if (w.ledger.published(e.record.jobId, this.node.index, e.record.term, w.sim.nowMs, outcomeOf(e.record), true)) w.jobFinished(e.record.jobId)
          w.submitters.get(this.node.index)?.noteRecord(e.record)
          break
        case 'claim': w.metrics.claims++; break
        // The simulator's workloads cancel no job; as the daemon does, a coordinator here would stop.
        case 'cancelled': w.coordinatorOf(this.node)?.cancel(e.jobId); break
        case 'log': break
      }
    }
  }
}
