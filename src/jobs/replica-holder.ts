import { FINAL_STATES, type JobRecord, type JobSpec } from './job-spec.js'
import type { DoneEntry, RpcMessage } from './wire.js'
import { answerClaim, answerCommit, answerConfirm, newReplicaState, nextClaimTerm, observeCoordinator, quorumSize, shouldClaim, VoteTally, type ReplicaState } from '../election/replica-set.js'

// A node's part in the replica sets of jobs, as a sans-IO core: the backups' copy of each job
// (spec, task table, completed results), the votes it casts, and when it claims a job — its
// coordinator died, the coordinator drains, or nobody coordinates it any more (the orphan
// backstop). Events come in with `now`; what to send, whom to hand a job to and whom to stop
// are returned as effects. The decisions are the pure functions of replica-set.ts.
//
// Cancel needs no majority: it is a tombstone each holder keeps (see `cancel`). A holder with
// one never claims or takes the job over, refuses claims for it ('cancelled'), and tells a
// coordinator still running it to cancel it. It changes no vote on a commit: a result that a
// majority accepts stands, and a final 'done' is never replaced by 'cancelled' (exactly once).
// src/node/daemon/job-replicas.ts and sim/arch/replicas.ts bind it to libp2p and to the simulator.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export interface Replica {
  state: ReplicaState
  spec: JobSpec | undefined
  chunks: readonly unknown[] | undefined
  /** taskIndex → [peer that ran it, result] */
  done: Map<number, [string, unknown]>
  /** The published (decided) final record. */
  final: JobRecord | undefined
  /** A final record this node accepted in a commit round, not yet known to be published. */
  accepted: JobRecord | undefined
  /** `answeredBare`: the other members that answered this claim carrying no accepted record. */
  claim: { tally: VoteTally, startedMs: number, answeredBare: Set<string> } | undefined
  /** Since when this node has been the job's coordinator on record without coordinating it. */
  orphanSinceMs: number | undefined
  /** The boot id of each member when it joined this replica: a member that restarted since lost its copy. */
  boots: Map<string, string | undefined>
  updatedMs: number
  /**
   * The job was cancelled (through this node's API, or another node said so): a tombstone kept
   * as long as a finished job's record. Its task table is dropped; the job is never claimed or
   * taken over here again. `record`: the cancelled record the cancelling node showed, if sent.
   */
  cancelled: { record: JobRecord | undefined } | undefined
  /**
   * The cancelling node's outbox (see `cancel`): each peer that has not acknowledged the cancel,
   * with the boot it was last sent to (undefined: not sent yet, it was out of sight).
   */
  cancelOut: { to: Map<string, string | undefined>, sentMs: number, retryMs: number } | undefined
  /** When this node last told a coordinator still running the cancelled job to stop (at most once a second). */
  remindedMs: number
}

/** What a node that won a claim needs to coordinate the job from where the last one stopped. */
export interface TakeoverData {
  spec: JobSpec
  chunks: readonly unknown[]
  done: Map<number, [string, unknown]>
  term: number
  replicaSet: readonly string[]
}

export type HolderEffect =
  | { type: 'send', to: string, message: RpcMessage }
  /** This node won a claim: coordinate the job from the replica. */
  | { type: 'takeOver', data: TakeoverData }
  /** This node promised a higher term than the one it coordinates the job under: stop. */
  | { type: 'yield', jobId: string, term: number }
  /** A final record learnt from the replica set, to keep. */
  | { type: 'record', record: JobRecord }
  /** A claim started (the binding logs or counts it). */
  | { type: 'claim', jobId: string, term: number, coordinator: string, why: ClaimReason }
  /**
   * The job is cancelled here from now on (a tombstone): stop coordinating it if this node does,
   * and show it cancelled. `record`: the cancelled record the cancelling node sent, if any.
   */
  | { type: 'cancelled', jobId: string, record: JobRecord | undefined }
  | { type: 'log', level: 'info' | 'warn', msg: string, fields: Record<string, unknown> }

export type ClaimReason = 'coordinator-lost' | 'orphaned' | 'handover'

/** Reads of the binding's view (membership, the coordinator core): no effects. */
export interface HolderView {
  readonly selfId: string
  /** The boot id of a live peer, undefined if it is not alive. */
  liveBoot: (peerId: string) => string | undefined
  /** Every peer membership believes alive or suspect (for takeover announcements). */
  alivePeers: () => readonly string[]
  /** Whether this node coordinates the job right now. */
  coordinates: (jobId: string) => boolean
}

export interface HolderConfig {
  claimTimeoutMs?: number
  retentionMs: number
  replicasMax?: number
}

/** The first re-send of an unacknowledged cancel waits this long, doubling up to CANCEL_RETRY_MAX_MS. */
const CANCEL_RETRY_MS = 1000
const CANCEL_RETRY_MAX_MS = 30_000
/** A coordinator still running a cancelled job is told again at most this often. */
const REMIND_MS = 1000

export class ReplicaHolder {
  private readonly replicas = new Map<string, Replica>()
  private out: HolderEffect[] = []

  constructor (private readonly view: HolderView, private readonly config: HolderConfig) {}

  get size (): number { return this.replicas.size }
  get (jobId: string): Replica | undefined { return this.replicas.get(jobId) }

  /** The coordinator registers its own place in the job's replica set. */
  track (jobId: string, replicaSet: readonly string[], coordinator: string, term: number, now: number): ReplicaState {
    const existing = this.replicas.get(jobId)
    if (existing !== undefined) {
      observeCoordinator(existing.state, coordinator, term)
      return existing.state
    }
    return this.create(jobId, replicaSet, coordinator, term, now).state
  }

  /**
   * The coordinator's own copy of the task table, and below of the results it replicates: should
   * it yield, it is a member like the others — often the first live one, whom the rest wait
   * for — and must be able to claim the job back. (Without it, a yielded coordinator whose
   * successor died blocked every claim: the job waited for it for ever.)
   */
  keepTable (jobId: string, spec: JobSpec, chunks: readonly unknown[]): void {
    const replica = this.replicas.get(jobId)
    if (replica === undefined || replica.final !== undefined || replica.cancelled !== undefined) return
    replica.spec = spec
    replica.chunks ??= chunks
  }

  /** Results the coordinator sent its backups, kept in its own copy too (see keepTable). */
  noteDone (jobId: string, done: ReadonlyArray<DoneEntry>): void {
    const replica = this.replicas.get(jobId)
    if (replica === undefined || replica.final !== undefined || replica.cancelled !== undefined) return
    for (const [index, peerId, result] of done) if (!replica.done.has(index)) replica.done.set(index, [peerId, result])
  }

  /**
   * A replica arrives; true if the binding should store its code and then call `replicaStored`.
   * The replica is created first: progress that arrives while the code is stored must find it.
   */
  replicaArriving (from: string, m: Msg<'job.replica'>, now: number): boolean {
    if (!m.replicaSet.includes(this.view.selfId)) return false
    const replica = this.replicas.get(m.spec.jobId) ?? this.create(m.spec.jobId, m.replicaSet, from, m.term, now)
    return m.term >= replica.state.term
  }

  /** The replica's code is stored: keep the task table and results, and acknowledge it. */
  replicaStored (from: string, m: Msg<'job.replica'>, now: number): HolderEffect[] {
    const replica = this.replicas.get(m.spec.jobId)
    if (replica === undefined || m.term < replica.state.term) return this.flush()
    if (replica.final !== undefined) {
      this.send(from, { t: 'job.replicaAck', jobId: m.spec.jobId, term: m.term })
      return this.flush()
    }
    if (replica.cancelled !== undefined) {
      // A coordinator runs the job we know cancelled: acknowledged (it stops re-sending), then told.
      observeCoordinator(replica.state, from, m.term)
      this.send(from, { t: 'job.replicaAck', jobId: m.spec.jobId, term: m.term })
      this.remind(replica, from, now)
      return this.flush()
    }
    observeCoordinator(replica.state, from, m.term)
    this.heardFrom(replica, from)
    replica.spec = m.spec
    replica.chunks ??= m.chunks
    for (const [index, peerId, result] of m.done ?? []) if (!replica.done.has(index)) replica.done.set(index, [peerId, result])
    replica.updatedMs = now
    this.send(from, { t: 'job.replicaAck', jobId: m.spec.jobId, term: m.term })
    return this.flush()
  }

  /** Results from the coordinator; the effects are for a job cancelled here (its coordinator is told to stop). */
  onProgress (from: string, m: Msg<'job.progress'>, now: number): HolderEffect[] {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined || replica.state.coordinator !== from || m.term < replica.state.term) return this.flush()
    this.heardFrom(replica, from)
    if (replica.cancelled !== undefined) {
      if (replica.final === undefined) this.remind(replica, from, now)
      return this.flush()
    }
    for (const [index, peer, result] of m.done) if (!replica.done.has(index)) replica.done.set(index, [m.peers[peer] as string, result])
    replica.updatedMs = now
    return this.flush()
  }

  onClaim (from: string, m: Msg<'job.claim'>): HolderEffect[] {
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) {
      // Never saw the job: nothing promised, nothing to lose.
      this.send(from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: true, promisedTerm: m.term })
      return this.flush()
    }
    if (!replica.state.replicaSet.includes(from)) return this.flush()
    const final = replica.final ?? replica.accepted
    if (replica.cancelled !== undefined && replica.final === undefined) {
      // Refused, promising nothing: the claimer learns the cancel (and a result this node
      // accepted, which wins over it).
      this.send(from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: false, promisedTerm: replica.state.promisedTerm, cancelled: true, ...(final !== undefined ? { final } : {}) })
      return this.flush()
    }
    const coordinatedTerm = replica.state.coordinator === this.view.selfId ? replica.state.term : undefined
    const answer = answerClaim(replica.state, m.term)
    this.send(from, { t: 'job.claimReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm, ...(final !== undefined ? { final } : {}) })
    if (answer.ok && coordinatedTerm !== undefined) this.out.push({ type: 'yield', jobId: m.jobId, term: m.term })
    return this.flush()
  }

  onClaimReply (from: string, m: Msg<'job.claimReply'>, now?: number): HolderEffect[] {
    this.claimReply(from, m, now)
    return this.flush()
  }

  private claimReply (from: string, m: Msg<'job.claimReply'>, now?: number): void {
    const replica = this.replicas.get(m.jobId)
    const claim = replica?.claim
    if (replica === undefined || claim === undefined || claim.tally.term !== m.term) return
    if (m.final !== undefined) {
      // The result was already committed: adopt it rather than run the job again.
      replica.claim = undefined
      this.announceFinal(replica, m.final)
      return
    }
    if (m.cancelled === true && replica.state.replicaSet.includes(from)) {
      // A member holds the job cancelled: so does this node from now on, and the claim ends.
      this.tombstone(replica, undefined, now ?? replica.updatedMs)
      return
    }
    if (from !== this.view.selfId && replica.state.replicaSet.includes(from)) claim.answeredBare.add(from)
    const outcome = claim.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'lost') replica.claim = undefined
    if (outcome !== 'won') return
    if (replica.accepted !== undefined) {
      // A node that accepted a commit (the orphan claim) does not run the job again — its own vote
      // would refuse another term's commit — but keeps the round open until it times out: a later
      // reply may carry the decided record. Its own accepted record is not known to be decided,
      // so it is never announced from here.
      // Unless so many members answered that they accepted nothing that the rest, this node
      // included, fall short of a majority: then that record was never decided, and never will be
      // (each of them promised a later term). The job runs on under this claim; without this, a
      // coordinator whose commit was refused and that has no successor claimed for ever (found
      // by fuzzing the lifecycle cores).
      const set = replica.state.replicaSet
      if (set.length - claim.answeredBare.size >= quorumSize(set.length)) return
      replica.accepted = undefined
      replica.state.committedTerm = undefined
    }
    if (replica.cancelled !== undefined) {
      replica.claim = undefined
      return
    }
    if (replica.spec === undefined || replica.chunks === undefined) {
      replica.claim = undefined
      this.log('warn', 'won a claim without a replica of the task table; cannot take over', { jobId: m.jobId })
      return
    }
    replica.claim = undefined
    const self = this.view.selfId
    observeCoordinator(replica.state, self, m.term)
    this.log('info', 'taking over job', { jobId: m.jobId, term: m.term, done: replica.done.size, tasks: replica.chunks.length })
    // Every live peer (workers drop the old term) and every member, alive or not: a paused old
    // coordinator reads it when it resumes, and yields.
    for (const peer of new Set([...this.view.alivePeers(), ...replica.state.replicaSet])) {
      if (peer !== self) this.send(peer, { t: 'job.takeover', jobId: m.jobId, term: m.term, coordinator: self })
    }
    this.out.push({ type: 'takeOver', data: { spec: replica.spec, chunks: replica.chunks, done: replica.done, term: m.term, replicaSet: replica.state.replicaSet } })
  }

  onConfirm (from: string, m: Msg<'job.confirm'>, now?: number): HolderEffect[] {
    const replica = this.replicas.get(m.jobId)
    // A coordinator about to reduce a job cancelled here hears of the cancel first.
    if (replica?.cancelled !== undefined && replica.final === undefined) this.remind(replica, from, now ?? replica.updatedMs)
    // Answered whoever asks: a confirm promises nothing, and the coordinator of a resubmitted
    // job may sit outside the set (ignoring it left that job running forever, all tasks done).
    const answer = replica === undefined ? { ok: true, promisedTerm: m.term } : answerConfirm(replica.state, m.term)
    this.send(from, { t: 'job.confirmReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm })
    return this.flush()
  }

  /** A member votes on a commit; the coordinator votes on its own through `voteOwnCommit`. */
  onCommit (from: string, m: Msg<'job.commit'>, now: number): HolderEffect[] {
    // The coordinator may sit outside the set (a resubmission to the next live node); only members vote.
    const target = this.replicas.get(m.jobId) ?? this.create(m.jobId, m.record.submitter === from ? [from, this.view.selfId] : [this.view.selfId], from, m.term, now)
    const answer = answerCommit(target.state, m.term)
    // Kept aside, not shown as the job's outcome until the coordinator publishes it.
    if (answer.ok) target.accepted = m.record
    this.send(from, { t: 'job.commitReply', jobId: m.jobId, term: m.term, ok: answer.ok, promisedTerm: answer.promisedTerm })
    return this.flush()
  }

  voteOwnCommit (jobId: string, term: number, record: JobRecord): boolean {
    const replica = this.replicas.get(jobId)
    if (replica === undefined) return false
    const answer = answerCommit(replica.state, term)
    if (answer.ok) replica.accepted = record
    return answer.ok
  }

  onTakeover (from: string, m: Msg<'job.takeover'>): HolderEffect[] {
    if (m.coordinator !== from) return this.flush()
    const replica = this.replicas.get(m.jobId)
    if (replica === undefined) return this.flush()
    const wasCoordinator = replica.state.coordinator === this.view.selfId
    if (!observeCoordinator(replica.state, from, m.term)) return this.flush()
    this.heardFrom(replica, from)
    // Our own claim under a higher term stays in the race: cancelling it here, after its voters
    // have promised that term and yielded, would leave the job with nobody coordinating it.
    if (replica.claim !== undefined && replica.claim.tally.term <= m.term) replica.claim = undefined
    if (wasCoordinator && from !== this.view.selfId) this.out.push({ type: 'yield', jobId: m.jobId, term: m.term })
    // Another member took over a job cancelled here (its majority never heard of the cancel).
    if (replica.cancelled !== undefined && replica.final === undefined && from !== this.view.selfId) this.remind(replica, from, replica.updatedMs, true)
    return this.flush()
  }

  /**
   * A final record from the coordinator (its job.update, or our own) also settles our copy.
   * `from`: the peer that sent it; its coordinator's updates tell that process holds the job.
   */
  noteRecord (record: JobRecord, from?: string, now?: number): HolderEffect[] {
    const replica = this.replicas.get(record.jobId)
    if (replica !== undefined && from !== undefined && from === record.coordinator && from === replica.state.coordinator && record.term >= replica.state.term) this.heardFrom(replica, from)
    if (replica !== undefined && FINAL_STATES.has(record.state) && replica.final === undefined && record.term >= replica.state.term) {
      replica.final = record
      replica.chunks = undefined
      replica.cancelOut = undefined // the job's outcome is decided: nobody needs the cancel any more
      replica.state.committedTerm ??= record.term
    }
    // The coordinator of a job cancelled here still runs it: tell it again.
    if (replica?.cancelled !== undefined && replica.final === undefined && from !== undefined && from === record.coordinator && from !== this.view.selfId && !FINAL_STATES.has(record.state)) {
      this.remind(replica, from, now ?? replica.updatedMs)
    }
    return this.flush()
  }

  /**
   * The API's cancel on this node (`record`: the job as this node shows it, cancelled): a
   * tombstone here, and job.cancel to every peer of `to` (the job's replica set, coordinator and
   * submitter) until each acknowledges it — at once to a peer that comes back (a restarted one
   * forgot the job), else again after 1 s, 2 s, 4 s… up to 30 s, for as long as the tombstone
   * is kept. No majority is needed: every holder that hears of it stops claiming the job.
   */
  cancel (record: JobRecord, to: readonly string[], now: number): HolderEffect[] {
    const self = this.view.selfId
    const replica = this.replicas.get(record.jobId) ?? this.create(record.jobId, record.replicaSet ?? [self], record.coordinator, record.term, now)
    if (replica.final !== undefined) {
      this.out.push({ type: 'record', record: replica.final })
      return this.flush()
    }
    this.tombstone(replica, record, now)
    const targets = new Map<string, string | undefined>()
    for (const peer of to) if (peer !== self) targets.set(peer, undefined)
    replica.cancelOut = { to: targets, sentMs: now, retryMs: CANCEL_RETRY_MS }
    this.sendCancels(replica, false)
    return this.flush()
  }

  /**
   * Another node cancels the job: keep a tombstone (also for a job this node never saw, or
   * forgot in a restart, so that a copy or claim of it that arrives later is refused) and
   * acknowledge it, with the job's final record if it already has one (that outcome stands).
   */
  onCancel (from: string, m: Msg<'job.cancel'>, now: number): HolderEffect[] {
    const record = m.record !== undefined && m.record.jobId === m.jobId ? m.record : undefined
    const known = this.replicas.get(m.jobId)
    if (known?.final !== undefined) {
      this.send(from, { t: 'job.cancelAck', jobId: m.jobId, final: known.final })
      return this.flush()
    }
    const replica = known ?? this.create(m.jobId, record?.replicaSet ?? [this.view.selfId], record?.coordinator ?? from, record?.term ?? 0, now)
    // Told again while this node coordinates the job (a reminder): the binding cancels it again (a no-op if it did).
    if (replica.cancelled !== undefined && this.view.coordinates(m.jobId)) this.out.push({ type: 'cancelled', jobId: m.jobId, record: replica.cancelled.record ?? record })
    this.tombstone(replica, record, now)
    this.send(from, { t: 'job.cancelAck', jobId: m.jobId })
    return this.flush()
  }

  /** A peer holds the tombstone (or the job's final record, which this node keeps and shows). */
  onCancelAck (from: string, m: Msg<'job.cancelAck'>): HolderEffect[] {
    const replica = this.replicas.get(m.jobId)
    const out = replica?.cancelOut
    if (replica === undefined || out === undefined || !out.to.delete(from)) return this.flush()
    if (out.to.size === 0) replica.cancelOut = undefined
    if (m.final !== undefined && m.final.jobId === m.jobId && FINAL_STATES.has(m.final.state) && replica.final === undefined) {
      replica.final = m.final
      replica.cancelOut = undefined
      replica.state.committedTerm ??= m.final.term
      this.out.push({ type: 'record', record: m.final })
    }
    return this.flush()
  }

  /** Whether this node holds the job cancelled (and knows of no final record). */
  isCancelled (jobId: string): boolean {
    const replica = this.replicas.get(jobId)
    return replica?.cancelled !== undefined && replica.final === undefined
  }

  /** Periodic: start claims for jobs whose coordinator died; give up claims that stalled. */
  tick (now: number): HolderEffect[] {
    const claimTimeoutMs = this.config.claimTimeoutMs ?? 5000
    for (const replica of this.replicas.values()) {
      if (replica.final !== undefined) continue
      if (replica.cancelOut !== undefined) this.resendCancels(replica, now)
      if (replica.claim !== undefined) {
        if (now - replica.claim.startedMs > claimTimeoutMs) replica.claim = undefined
        continue
      }
      if (replica.accepted !== undefined) {
        // We accepted this result in a commit round and its coordinator died before publishing it.
        if (shouldClaim({ ...replica.state, committedTerm: undefined }, this.view.selfId, p => this.sameBoot(replica, p))) this.announceFinal(replica, replica.accepted)
        // Or we are that coordinator and yielded at a refusal although a majority may have
        // accepted: a claim collects the members' accepted records (a claim reply carries them).
        else if (replica.cancelled === undefined && this.orphaned(replica, now)) this.startClaim(replica, now, 'orphaned')
        continue
      }
      if (replica.chunks === undefined || replica.cancelled !== undefined) continue
      if (this.orphaned(replica, now)) {
        this.startClaim(replica, now, 'orphaned')
        continue
      }
      if (!shouldClaim(replica.state, this.view.selfId, p => this.sameBoot(replica, p))) continue
      this.startClaim(replica, now, 'coordinator-lost')
    }
    return this.flush()
  }

  /** Whether a tick can do anything (the simulator skips idle holders). */
  get pending (): boolean {
    for (const r of this.replicas.values()) if (r.final === undefined && (r.chunks !== undefined || r.accepted !== undefined || r.cancelOut !== undefined)) return true
    return false
  }

  /** The coordinator drains and asks this member to take the job over: claim it now. */
  onHandover (from: string, m: Msg<'job.handover'>, now: number): HolderEffect[] {
    const replica = this.replicas.get(m.jobId)
    if (replica?.cancelled !== undefined && replica.final === undefined) {
      this.remind(replica, from, now, true)
      return this.flush()
    }
    if (replica === undefined || replica.final !== undefined || replica.chunks === undefined || replica.claim !== undefined) return this.flush()
    if (replica.state.coordinator !== from || replica.state.term !== m.term) return this.flush()
    this.startClaim(replica, now, 'handover')
    return this.flush()
  }

  private create (jobId: string, replicaSet: readonly string[], coordinator: string, term: number, now: number): Replica {
    this.evict(now)
    const boots = new Map(replicaSet.map(p => [p, this.view.liveBoot(p)]))
    const replica: Replica = {
      state: newReplicaState(jobId, replicaSet, coordinator, term), spec: undefined, chunks: undefined, done: new Map(), final: undefined, accepted: undefined,
      claim: undefined, orphanSinceMs: undefined, boots, updatedMs: now, cancelled: undefined, cancelOut: undefined, remindedMs: -Infinity,
    }
    this.replicas.set(jobId, replica)
    return replica
  }

  private startClaim (replica: Replica, now: number, why: ClaimReason): void {
    replica.orphanSinceMs = undefined
    const term = nextClaimTerm(replica.state)
    replica.state.promisedTerm = term
    const self = this.view.selfId
    const tally = new VoteTally(replica.state.replicaSet, term, self)
    replica.claim = { tally, startedMs: now, answeredBare: new Set() }
    this.out.push({ type: 'claim', jobId: replica.state.jobId, term, coordinator: replica.state.coordinator, why })
    for (const member of replica.state.replicaSet) {
      if (member !== self) this.send(member, { t: 'job.claim', jobId: replica.state.jobId, term })
    }
    // A replica set of one (or a majority already) wins at once.
    if (tally.outcome() === 'won') this.claimReply(self, { t: 'job.claimReply', jobId: replica.state.jobId, term, ok: true, promisedTerm: term })
  }

  /**
   * The liveness backstop: this node is the job's coordinator on record (so no backup will
   * claim it) but does not coordinate it — it yielded to a claim whose claimer then never took
   * over (the claim was lost, or its claimer died). After the claim timeout it claims again.
   */
  private orphaned (replica: Replica, now: number): boolean {
    if (replica.state.coordinator !== this.view.selfId || this.view.coordinates(replica.state.jobId)) {
      replica.orphanSinceMs = undefined
      return false
    }
    replica.orphanSinceMs ??= now
    return now - replica.orphanSinceMs > (this.config.claimTimeoutMs ?? 5000)
  }

  /**
   * A member sent a message only a holder of the job sends (its replica, progress, takeover or
   * record, as the coordinator): the process now live under that peer id holds the job, whatever
   * boot was recorded for it. A member out of sight when this node made its replica (a partition)
   * was recorded with no boot, so never the same process: each member took the job from the one
   * before as soon as it took over, in a cycle (the chaos test saw terms climb to 3,922 in 120 s).
   */
  private heardFrom (replica: Replica, peerId: string): void {
    const boot = this.view.liveBoot(peerId)
    if (boot !== undefined && replica.boots.has(peerId)) replica.boots.set(peerId, boot)
  }

  /** "Alive" for failover means the same process that held the job: a restarted peer lost it. */
  private sameBoot (replica: Replica, peerId: string): boolean {
    const boot = this.view.liveBoot(peerId)
    return boot !== undefined && boot === replica.boots.get(peerId)
  }

  /** Make a decided result known: here, to the submitter's node and to the other members. */
  private announceFinal (replica: Replica, record: JobRecord): void {
    if (replica.final !== undefined) return
    replica.final = record
    replica.chunks = undefined
    replica.cancelOut = undefined
    replica.state.committedTerm ??= record.term
    this.out.push({ type: 'record', record })
    const to = new Set([record.submitter, ...replica.state.replicaSet])
    to.delete(this.view.selfId)
    for (const peer of to) this.send(peer, { t: 'job.update', record })
  }

  private evict (now: number): void {
    for (const [jobId, r] of this.replicas) {
      const finished = r.final !== undefined || r.cancelled !== undefined
      if (this.replicas.size < (this.config.replicasMax ?? 10_000) && !(finished && now - r.updatedMs > this.config.retentionMs)) break
      this.replicas.delete(jobId)
    }
  }

  /**
   * The job is cancelled here from now on: no claim of it runs or starts, its task table and
   * results go (nothing here will run it again), and the binding is told (a 'cancelled' effect).
   * A result this node accepted in a commit round is kept: if a majority accepted it, it stands.
   */
  private tombstone (replica: Replica, record: JobRecord | undefined, now: number): void {
    if (replica.cancelled !== undefined) {
      if (record !== undefined) replica.cancelled.record ??= record
      return
    }
    replica.cancelled = { record }
    replica.claim = undefined
    replica.orphanSinceMs = undefined
    replica.chunks = undefined
    replica.done.clear()
    replica.updatedMs = now
    this.out.push({ type: 'cancelled', jobId: replica.state.jobId, record })
  }

  /** Tell `to`, which runs (or is about to run) the cancelled job, to cancel it; at most once a second unless `force`. */
  private remind (replica: Replica, to: string, now: number, force = false): void {
    if (to === this.view.selfId || (!force && now - replica.remindedMs < REMIND_MS)) return
    replica.remindedMs = Math.max(replica.remindedMs, now)
    this.sendCancel(replica, to)
  }

  private sendCancel (replica: Replica, to: string): void {
    const record = replica.cancelled?.record
    this.send(to, { t: 'job.cancel', jobId: replica.state.jobId, ...(record !== undefined ? { record } : {}) })
  }

  /** The outbox's cancels: to every peer in sight that was not sent one under its current boot (`all`: to every peer in sight). */
  private sendCancels (replica: Replica, all: boolean): void {
    const out = replica.cancelOut
    if (out === undefined) return
    for (const [peer, sentBoot] of out.to) {
      const boot = this.view.liveBoot(peer)
      if (boot === undefined || (!all && boot === sentBoot)) continue
      out.to.set(peer, boot)
      this.sendCancel(replica, peer)
    }
  }

  private resendCancels (replica: Replica, now: number): void {
    const out = replica.cancelOut
    if (out === undefined) return
    const due = now - out.sentMs >= out.retryMs
    this.sendCancels(replica, due)
    if (due) {
      out.sentMs = now
      out.retryMs = Math.min(out.retryMs * 2, CANCEL_RETRY_MAX_MS)
    }
  }

  private send (to: string, message: RpcMessage): void { this.out.push({ type: 'send', to, message }) }
  private log (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void { this.out.push({ type: 'log', level, msg, fields }) }

  private flush (): HolderEffect[] {
    const out = this.out
    this.out = []
    return out
  }
}

/** The log line a binding writes for a claim (the reasons read as the node has always logged them). */
export const CLAIM_REASON_TEXT: Record<ClaimReason, string> = {
  'coordinator-lost': 'coordinator lost: claiming job',
  orphaned: 'the job has no coordinator (this node yielded to a claim that never took over): claiming it',
  handover: 'coordinator drains: claiming job',
}
