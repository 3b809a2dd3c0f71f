import { answerClaim, answerCommit, newReplicaState, observeCoordinator, shouldClaim, VoteTally, type ReplicaState } from '../../src/election/replica-set.js'
import type { SimMessage } from '../net/messages.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'

// This node's part in the replica sets of jobs, as src/node/job-replicas.ts binds the pure
// functions of src/election/replica-set.ts: hold the task table and completed results, vote
// on claims and commits, and claim the job when the coordinator and every backup ranked
// before us are not alive in this node's membership view.

interface Replica {
  state: ReplicaState
  /** Peer indices of the replica set (state.replicaSet holds peer ids). */
  members: number[]
  hasTable: boolean
  done: Map<number, unknown>
  final: boolean
  claim: { tally: VoteTally, startedMs: number } | undefined
  /** Each member's boot when it joined: a member that restarted since lost its copy. */
  boots: Map<number, string | undefined>
}

type Msg<T extends SimMessage['t']> = Extract<SimMessage, { t: T }>

const REPLICAS_MAX = 10_000

export class ReplicaBinding {
  readonly replicas = new Map<string, Replica>()

  constructor (private readonly w: World, private readonly node: SimNode) {}

  get (jobId: string): Replica | undefined { return this.replicas.get(jobId) }

  private create (jobId: string, members: readonly number[], coordinator: number, term: number): Replica {
    if (this.replicas.size >= REPLICAS_MAX) {
      for (const [id, r] of this.replicas) if (r.final) { this.replicas.delete(id); break }
    }
    const ids = members.map(i => this.w.nodes[i]?.id ?? '')
    const replica: Replica = { state: newReplicaState(jobId, ids, this.w.nodes[coordinator]?.id ?? '', term), members: [...members], hasTable: false, done: new Map(), final: false, claim: undefined, boots: new Map(members.map(p => [p, this.w.liveBoot(this.node, p)])) }
    this.replicas.set(jobId, replica)
    return replica
  }

  /** The coordinator registers its own place in the replica set. */
  track (jobId: string, members: readonly number[], coordinator: number, term: number): ReplicaState {
    const existing = this.replicas.get(jobId)
    if (existing !== undefined) {
      observeCoordinator(existing.state, this.w.nodes[coordinator]?.id ?? '', term)
      return existing.state
    }
    return this.create(jobId, members, coordinator, term).state
  }

  onReplica (from: number, m: Msg<'job.replica'>): void {
    if (!m.replicaSet.includes(this.node.index)) return
    const replica = this.replicas.get(m.jobId) ?? this.create(m.jobId, m.replicaSet, from, m.term)
    if (m.term < replica.state.term) return
    observeCoordinator(replica.state, this.w.nodes[from]?.id ?? '', m.term)
    replica.hasTable = true
  }

  onProgress (from: number, m: Msg<'job.progress'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined || replica.state.coordinator !== this.w.nodes[from]?.id || m.term < replica.state.term) return
    for (const [index, result] of m.done) if (!replica.done.has(index)) replica.done.set(index, result)
  }

  onClaim (from: number, m: Msg<'job.claim'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) {
      this.w.send(this.node.index, from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: true, promisedTerm: m.term, final: false })
      return
    }
    if (!replica.members.includes(from)) return
    const coordinatedTerm = replica.state.coordinator === this.node.id ? replica.state.term : undefined
    const answer = answerClaim(replica.state, m.term)
    this.w.send(this.node.index, from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm, final: replica.final })
    if (answer.ok && coordinatedTerm !== undefined) this.w.coordinatorOf(this.node)?.yieldJob(m.jobId, m.term)
  }

  onClaimReply (from: number, m: Msg<'job.claimReply'>): void {
    const replica = this.replicas.get(m.jobId)
    const claim = replica?.claim
    if (replica === undefined || claim === undefined || claim.tally.term !== m.term) return
    if (m.final) {
      // Already committed elsewhere: adopt that outcome rather than run the job again.
      replica.claim = undefined
      this.learnFinal(replica)
      return
    }
    const outcome = claim.tally.add(this.w.nodes[from]?.id ?? '', m.ok, m.promisedTerm)
    if (outcome === 'lost') replica.claim = undefined
    if (outcome !== 'won') return
    replica.claim = undefined
    if (!replica.hasTable) return
    observeCoordinator(replica.state, this.node.id, m.term)
    const plan = this.w.jobsById.get(m.jobId)
    if (plan === undefined) return
    // Every live peer this node knows (workers drop the old term) and every member.
    const to = new Set<number>([...this.w.alivePeers(this.node), ...replica.members])
    to.delete(this.node.index)
    for (const peer of to) this.w.send(this.node.index, peer, { t: 'job.takeover', jobId: m.jobId, term: m.term, coordinator: this.node.index })
    this.w.coordinatorBinding(this.node).adopt(plan, m.term, replica.members, new Map(replica.done))
  }

  onCommit (from: number, m: Msg<'job.commit'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica !== undefined && !replica.members.includes(from)) return
    const target = replica ?? this.create(m.jobId, [from, this.node.index], from, m.term)
    const answer = answerCommit(target.state, m.term)
    if (answer.ok) this.learnFinal(target)
    this.w.send(this.node.index, from, { t: 'job.commitReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm })
  }

  onTakeover (from: number, m: Msg<'job.takeover'>): void {
    if (m.coordinator !== from) return
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) return
    const wasCoordinator = replica.state.coordinator === this.node.id
    if (!observeCoordinator(replica.state, this.w.nodes[from]?.id ?? '', m.term)) return
    replica.claim = undefined
    if (wasCoordinator && from !== this.node.index) this.w.coordinatorOf(this.node)?.yieldJob(m.jobId, m.term)
  }

  /** A final record from the coordinator settles our copy. */
  noteFinal (jobId: string, term: number): void {
    const replica = this.replicas.get(jobId)
    if (replica !== undefined && !replica.final && term >= replica.state.term) this.learnFinal(replica)
  }

  /** The coordinator's own commit vote (JobCoordinator.finish → ReplicaStore.voteOwnCommit). */
  voteOwnCommit (jobId: string, term: number): boolean {
    const replica = this.replicas.get(jobId)
    if (replica === undefined) return false
    const answer = answerCommit(replica.state, term)
    if (answer.ok) this.learnFinal(replica)
    return answer.ok
  }

  yieldTo (jobId: string, term: number): void {
    this.w.coordinatorOf(this.node)?.yieldJob(jobId, term)
  }

  /** Periodic: start claims for jobs whose coordinator died; give up claims that stalled. */
  tick (): boolean {
    const now = this.w.sim.nowMs
    let pending = false
    for (const replica of this.replicas.values()) {
      if (replica.final || !replica.hasTable) continue
      // "Alive" for failover means the same process that held the job: a restarted peer lost it.
      const isAlive = (peerId: string): boolean => {
        const p = this.w.indexOf(peerId)
        const boot = this.w.liveBoot(this.node, p)
        return boot !== undefined && boot === replica.boots.get(p)
      }
      pending = true
      if (replica.claim !== undefined) {
        if (now - replica.claim.startedMs > this.w.cfg.protocol.claimTimeoutMs) replica.claim = undefined
        continue
      }
      if (!shouldClaim(replica.state, this.node.id, isAlive)) continue
      const term = Math.max(replica.state.term, replica.state.promisedTerm) + 1
      replica.state.promisedTerm = term
      const tally = new VoteTally(replica.state.replicaSet, term, this.node.id)
      replica.claim = { tally, startedMs: now }
      this.w.metrics.claims++
      for (const member of replica.members) {
        if (member !== this.node.index) this.w.send(this.node.index, member, { t: 'job.claim', jobId: replica.state.jobId, term })
      }
      if (tally.outcome() === 'won') this.onClaimReply(this.node.index, { t: 'job.claimReply', jobId: replica.state.jobId, term, ok: true, promisedTerm: term, final: false })
    }
    return pending
  }

  private learnFinal (replica: Replica): void {
    if (replica.final) return
    replica.final = true
    replica.done = new Map()
    replica.state.committedTerm ??= replica.state.term
  }
}

export function replicasOf (w: World, node: SimNode): ReplicaBinding | undefined { return w.replicaOf(node) }

/** The coordinator's own vote on its commit. */
export function answerCommitLocal (replicas: ReplicaBinding, jobId: string, term: number): boolean {
  return replicas.voteOwnCommit(jobId, term)
}
