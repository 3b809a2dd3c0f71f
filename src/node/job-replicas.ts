import { answerClaim, answerCommit, answerConfirm, newReplicaState, observeCoordinator, shouldClaim, VoteTally, type ReplicaState } from '../election/replica-set.js'
import { FINAL_STATES, type JobRecord, type JobSpec } from '../jobs/job-spec.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { CodeCache } from './code-cache.js'
import type { Logger } from './logger.js'

// This node's part in the replica sets of jobs: the backups' copy of each job (spec, task
// table, completed results), the votes it casts, and the takeover when the coordinator dies.
// The decisions themselves are the pure functions of src/election/replica-set.ts.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export interface Replica {
  state: ReplicaState
  spec: JobSpec | undefined
  chunks: unknown[] | undefined
  /** taskIndex → [peer that ran it, result] */
  done: Map<number, [string, unknown]>
  /** The published (decided) final record. */
  final: JobRecord | undefined
  /** A final record this node accepted in a commit round, not yet known to be published. */
  accepted: JobRecord | undefined
  claim: { tally: VoteTally, startedMs: number } | undefined
  /** Since when this node has been the job's coordinator on record without coordinating it. */
  orphanSinceMs: number | undefined
  /** The boot id of each member when it joined this replica: a member that restarted since lost its copy. */
  boots: Map<string, string | undefined>
  updatedMs: number
}

export interface TakeoverData {
  spec: JobSpec
  chunks: unknown[]
  done: Map<number, [string, unknown]>
  term: number
  replicaSet: readonly string[]
}

export interface ReplicaStoreOptions {
  selfId: string
  code: CodeCache
  log: Logger
  send: (peerId: string, message: RpcMessage) => void
  /** Every peer membership believes alive (for takeover announcements). */
  alivePeers: () => string[]
  /** The boot id of a live peer, undefined if it is not alive. */
  liveBoot: (peerId: string) => string | undefined
  nowMs: () => number
  /** Whether this node's JobCoordinator coordinates the job right now. */
  coordinates: (jobId: string) => boolean
  /** This node won a claim: coordinate the job from the replica. */
  takeOver: (data: TakeoverData) => void
  /** This node promised a higher term than the one it coordinates the job under: stop. */
  yieldJob: (jobId: string, term: number) => void
  /** A record to keep (final records learnt from other members). */
  onRecord: (record: JobRecord) => void
  claimTimeoutMs?: number
  retentionMs: number
  replicasMax?: number
}

export class ReplicaStore {
  private readonly replicas = new Map<string, Replica>()

  constructor (private readonly opts: ReplicaStoreOptions) {}

  get (jobId: string): Replica | undefined { return this.replicas.get(jobId) }

  /** The coordinator registers its own place in the job's replica set. */
  track (jobId: string, replicaSet: readonly string[], coordinator: string, term: number): ReplicaState {
    const existing = this.replicas.get(jobId)
    if (existing !== undefined) {
      observeCoordinator(existing.state, coordinator, term)
      return existing.state
    }
    return this.create(jobId, replicaSet, coordinator, term).state
  }

  /**
   * The coordinator's own copy of the task table, and below of the results it replicates: should
   * it yield, it is a member like the others — often the first live one, whom the rest wait
   * for — and must be able to claim the job back. (Without it, a yielded coordinator whose
   * successor died blocked every claim: the job waited for it for ever.)
   */
  keepTable (jobId: string, spec: JobSpec, chunks: unknown[]): void {
    const replica = this.replicas.get(jobId)
    if (replica === undefined || replica.final !== undefined) return
    replica.spec = spec
    replica.chunks ??= chunks
  }

  /** Results the coordinator sent its backups, kept in its own copy too (see keepTable). */
  noteDone (jobId: string, done: ReadonlyArray<readonly [number, string, unknown]>): void {
    const replica = this.replicas.get(jobId)
    if (replica === undefined || replica.final !== undefined) return
    for (const [index, peerId, result] of done) if (!replica.done.has(index)) replica.done.set(index, [peerId, result])
  }

  private create (jobId: string, replicaSet: readonly string[], coordinator: string, term: number): Replica {
    this.evict()
    const boots = new Map(replicaSet.map(p => [p, this.opts.liveBoot(p)]))
    const replica: Replica = { state: newReplicaState(jobId, replicaSet, coordinator, term), spec: undefined, chunks: undefined, done: new Map(), final: undefined, accepted: undefined, claim: undefined, orphanSinceMs: undefined, boots, updatedMs: this.opts.nowMs() }
    this.replicas.set(jobId, replica)
    return replica
  }

  async onReplica (from: string, m: Msg<'job.replica'>): Promise<void> {
    if (!m.replicaSet.includes(this.opts.selfId)) return
    // Created before the code is stored: progress that arrives meanwhile must find the replica.
    const replica = this.replicas.get(m.spec.jobId) ?? this.create(m.spec.jobId, m.replicaSet, from, m.term)
    if (m.term < replica.state.term) return
    this.opts.log.debug({ from, jobId: m.spec.jobId, term: m.term, tasks: m.chunks.length }, 'replica received')
    try {
      await this.opts.code.put(m.spec.codeHash, m.code)
    } catch (err) {
      this.opts.log.warn({ from, jobId: m.spec.jobId, err: (err as Error).message }, 'rejected replica code')
      return
    }
    if (m.term < replica.state.term) return
    if (replica.final !== undefined) {
      this.opts.send(from, { t: 'job.replicaAck', jobId: m.spec.jobId, term: m.term })
      return
    }
    observeCoordinator(replica.state, from, m.term)
    replica.spec = m.spec
    replica.chunks ??= m.chunks
    for (const [index, peerId, result] of m.done ?? []) if (!replica.done.has(index)) replica.done.set(index, [peerId, result])
    replica.updatedMs = this.opts.nowMs()
    this.opts.send(from, { t: 'job.replicaAck', jobId: m.spec.jobId, term: m.term })
  }

  onProgress (from: string, m: Msg<'job.progress'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined || replica.state.coordinator !== from || m.term < replica.state.term) return
    for (const [index, peerId, result] of m.done) if (!replica.done.has(index)) replica.done.set(index, [peerId, result])
    replica.updatedMs = this.opts.nowMs()
  }

  onClaim (from: string, m: Msg<'job.claim'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) {
      // Never saw the job: nothing promised, nothing to lose.
      this.opts.send(from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: true, promisedTerm: m.term })
      return
    }
    if (!replica.state.replicaSet.includes(from)) return
    const coordinatedTerm = replica.state.coordinator === this.opts.selfId ? replica.state.term : undefined
    const answer = answerClaim(replica.state, m.term)
    const final = replica.final ?? replica.accepted
    this.opts.send(from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm, ...(final !== undefined ? { final } : {}) })
    if (answer.ok && coordinatedTerm !== undefined) this.opts.yieldJob(m.jobId, m.term)
  }

  onClaimReply (from: string, m: Msg<'job.claimReply'>): void {
    const replica = this.replicas.get(m.jobId)
    const claim = replica?.claim
    if (replica === undefined || claim === undefined || claim.tally.term !== m.term) return
    if (m.final !== undefined) {
      // The result was already committed: adopt it rather than run the job again.
      replica.claim = undefined
      this.announceFinal(replica, m.final)
      return
    }
    const outcome = claim.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'lost') replica.claim = undefined
    if (outcome !== 'won') return
    replica.claim = undefined
    if (replica.spec === undefined || replica.chunks === undefined) {
      this.opts.log.warn({ jobId: m.jobId }, 'won a claim without a replica of the task table; cannot take over')
      return
    }
    observeCoordinator(replica.state, this.opts.selfId, m.term)
    this.opts.log.info({ jobId: m.jobId, term: m.term, done: replica.done.size, tasks: replica.chunks.length }, 'taking over job')
    // Every live peer (workers drop the old term) and every member, alive or not: a paused old
    // coordinator reads it when it resumes, and yields.
    for (const peer of new Set([...this.opts.alivePeers(), ...replica.state.replicaSet])) {
      if (peer !== this.opts.selfId) this.opts.send(peer, { t: 'job.takeover', jobId: m.jobId, term: m.term, coordinator: this.opts.selfId })
    }
    this.opts.takeOver({ spec: replica.spec, chunks: replica.chunks, done: replica.done, term: m.term, replicaSet: replica.state.replicaSet })
  }

  onConfirm (from: string, m: Msg<'job.confirm'>): void {
    const replica = this.replicas.get(m.jobId)
    // Answered whoever asks: a confirm promises nothing, and the coordinator of a resubmitted
    // job may sit outside the set (ignoring it left that job running forever, all tasks done).
    const answer = replica === undefined ? { ok: true, promisedTerm: m.term } : answerConfirm(replica.state, m.term)
    this.opts.send(from, { t: 'job.confirmReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm })
  }

  /** A member votes on a commit; the coordinator votes on its own through `voteOwnCommit`. */
  onCommit (from: string, m: Msg<'job.commit'>): void {
    // The coordinator may sit outside the set (a resubmission to the next live node); only members vote.
    const target = this.replicas.get(m.jobId) ?? this.create(m.jobId, m.record.submitter === from ? [from, this.opts.selfId] : [this.opts.selfId], from, m.term)
    const answer = answerCommit(target.state, m.term)
    // Kept aside, not shown as the job's outcome until the coordinator publishes it.
    if (answer.ok) target.accepted = m.record
    this.opts.send(from, { t: 'job.commitReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm })
  }

  voteOwnCommit (jobId: string, term: number, record: JobRecord): boolean {
    const replica = this.replicas.get(jobId)
    if (replica === undefined) return false
    const answer = answerCommit(replica.state, term)
    if (answer.ok) replica.accepted = record
    return answer.ok
  }

  onTakeover (from: string, m: Msg<'job.takeover'>): void {
    if (m.coordinator !== from) return
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) return
    const wasCoordinator = replica.state.coordinator === this.opts.selfId
    if (!observeCoordinator(replica.state, from, m.term)) return
    // Our own claim under a higher term stays in the race: cancelling it here, after its voters
    // have promised that term and yielded, would leave the job with nobody coordinating it.
    if (replica.claim !== undefined && replica.claim.tally.term <= m.term) replica.claim = undefined
    if (wasCoordinator && from !== this.opts.selfId) this.opts.yieldJob(m.jobId, m.term)
  }

  /** A final record from the coordinator (its job.update) also settles our copy. */
  noteRecord (record: JobRecord): void {
    const replica = this.replicas.get(record.jobId)
    if (replica !== undefined && FINAL_STATES.has(record.state) && replica.final === undefined && record.term >= replica.state.term) {
      replica.final = record
      replica.chunks = undefined
      replica.state.committedTerm ??= record.term
    }
  }

  /** Periodic: start claims for jobs whose coordinator died; give up claims that stalled. */
  tick (): void {
    const now = this.opts.nowMs()
    for (const replica of this.replicas.values()) {
      if (replica.final !== undefined) continue
      if (replica.accepted !== undefined) {
        // We accepted this result in a commit round and its coordinator died before publishing it.
        if (shouldClaim({ ...replica.state, committedTerm: undefined }, this.opts.selfId, p => this.sameBoot(replica, p))) this.announceFinal(replica, replica.accepted)
        continue
      }
      if (replica.chunks === undefined) continue
      if (replica.claim !== undefined) {
        if (now - replica.claim.startedMs > (this.opts.claimTimeoutMs ?? 5000)) replica.claim = undefined
        continue
      }
      if (this.orphaned(replica, now)) {
        this.startClaim(replica, now, 'the job has no coordinator (this node yielded to a claim that never took over): claiming it')
        continue
      }
      if (!shouldClaim(replica.state, this.opts.selfId, p => this.sameBoot(replica, p))) continue
      this.startClaim(replica, now, 'coordinator lost: claiming job')
    }
  }

  /** The coordinator drains and asks this member to take the job over: claim it now. */
  onHandover (from: string, m: Msg<'job.handover'>): void {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined || replica.final !== undefined || replica.chunks === undefined || replica.claim !== undefined) return
    if (replica.state.coordinator !== from || replica.state.term !== m.term) return
    this.startClaim(replica, this.opts.nowMs(), 'coordinator drains: claiming job')
  }

  private startClaim (replica: Replica, now: number, why: string): void {
    replica.orphanSinceMs = undefined
    const term = Math.max(replica.state.term, replica.state.promisedTerm) + 1
    replica.state.promisedTerm = term
    const tally = new VoteTally(replica.state.replicaSet, term, this.opts.selfId)
    replica.claim = { tally, startedMs: now }
    this.opts.log.info({ jobId: replica.state.jobId, term, coordinator: replica.state.coordinator }, why)
    for (const member of replica.state.replicaSet) {
      if (member !== this.opts.selfId) this.opts.send(member, { t: 'job.claim', jobId: replica.state.jobId, term })
    }
    // A replica set of one (or a majority already) wins at once.
    if (tally.outcome() === 'won') this.onClaimReply(this.opts.selfId, { t: 'job.claimReply', jobId: replica.state.jobId, term, ok: true, promisedTerm: term })
  }

  /**
   * The liveness backstop: this node is the job's coordinator on record (so no backup will
   * claim it) but does not coordinate it — it yielded to a claim whose claimer then never took
   * over (the claim was lost, or its claimer died). After the claim timeout it claims again.
   */
  private orphaned (replica: Replica, now: number): boolean {
    if (replica.state.coordinator !== this.opts.selfId || this.opts.coordinates(replica.state.jobId)) {
      replica.orphanSinceMs = undefined
      return false
    }
    replica.orphanSinceMs ??= now
    return now - replica.orphanSinceMs > (this.opts.claimTimeoutMs ?? 5000)
  }

  /** "Alive" for failover means the same process that held the job: a restarted peer lost it. */
  private sameBoot (replica: Replica, peerId: string): boolean {
    const boot = this.opts.liveBoot(peerId)
    return boot !== undefined && boot === replica.boots.get(peerId)
  }

  /** Make a decided result known: here, to the submitter's node and to the other members. */
  private announceFinal (replica: Replica, record: JobRecord): void {
    if (replica.final !== undefined) return
    replica.final = record
    replica.chunks = undefined
    replica.state.committedTerm ??= record.term
    this.opts.onRecord(record)
    const to = new Set([record.submitter, ...replica.state.replicaSet])
    to.delete(this.opts.selfId)
    for (const peer of to) this.opts.send(peer, { t: 'job.update', record })
  }

  private evict (): void {
    const now = this.opts.nowMs()
    for (const [jobId, r] of this.replicas) {
      if (this.replicas.size < (this.opts.replicasMax ?? 10_000) && !(r.final !== undefined && now - r.updatedMs > this.opts.retentionMs)) break
      this.replicas.delete(jobId)
    }
  }
}
