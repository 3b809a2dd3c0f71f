import { CLAIM_REASON_TEXT, ReplicaHolder, type HolderEffect, type Replica, type TakeoverData } from '../../jobs/replica-holder.js'
import type { ReplicaState } from '../../election/replica-set.js'
import type { JobRecord, JobSpec } from '../../jobs/job-spec.js'
import type { DoneEntry, RpcMessage } from '../../jobs/wire.js'
import type { CodeCache } from './code-cache.js'
import type { Logger } from '../host/logger.js'

// This node's part in the replica sets of jobs, bound to the RPC layer and the code cache.
// Every decision — votes, claims, takeovers, the orphan backstop — is the ReplicaHolder core's
// (src/jobs/replica-holder.ts), which the simulator runs too; this file performs its effects.

export type { Replica, TakeoverData }

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

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
  /** The job is cancelled here (a tombstone): stop coordinating it, show it cancelled (`record`: as the canceller sent it). */
  onCancelled: (jobId: string, record: JobRecord | undefined) => void
  claimTimeoutMs?: number
  retentionMs: number
  replicasMax?: number
}

export class ReplicaStore {
  readonly holder: ReplicaHolder

  constructor (private readonly opts: ReplicaStoreOptions) {
    this.holder = new ReplicaHolder(
      { selfId: opts.selfId, liveBoot: opts.liveBoot, alivePeers: opts.alivePeers, coordinates: opts.coordinates },
      { retentionMs: opts.retentionMs, ...(opts.claimTimeoutMs !== undefined ? { claimTimeoutMs: opts.claimTimeoutMs } : {}), ...(opts.replicasMax !== undefined ? { replicasMax: opts.replicasMax } : {}) },
    )
  }

  get (jobId: string): Replica | undefined { return this.holder.get(jobId) }

  /** The coordinator registers its own place in the job's replica set. */
  track (jobId: string, replicaSet: readonly string[], coordinator: string, term: number): ReplicaState {
    return this.holder.track(jobId, replicaSet, coordinator, term, this.opts.nowMs())
  }

  /** The coordinator's own copy of the task table and replicated results (see ReplicaHolder.keepTable). */
  keepTable (jobId: string, spec: JobSpec, chunks: readonly unknown[]): void { this.holder.keepTable(jobId, spec, chunks) }
  noteDone (jobId: string, done: ReadonlyArray<DoneEntry>): void { this.holder.noteDone(jobId, done) }

  async onReplica (from: string, m: Msg<'job.replica'>): Promise<void> {
    if (!this.holder.replicaArriving(from, m, this.opts.nowMs())) return
    this.opts.log.debug({ from, jobId: m.spec.jobId, term: m.term, tasks: m.chunks.length }, 'replica received')
    try {
      await this.opts.code.put(m.spec.codeHash, m.code)
    } catch (err) {
      this.opts.log.warn({ from, jobId: m.spec.jobId, err: (err as Error).message }, 'rejected replica code')
      return
    }
    this.apply(this.holder.replicaStored(from, m, this.opts.nowMs()))
  }

  onProgress (from: string, m: Msg<'job.progress'>): void { this.apply(this.holder.onProgress(from, m, this.opts.nowMs())) }
  onClaim (from: string, m: Msg<'job.claim'>): void { this.apply(this.holder.onClaim(from, m)) }
  onClaimReply (from: string, m: Msg<'job.claimReply'>): void { this.apply(this.holder.onClaimReply(from, m, this.opts.nowMs())) }
  onConfirm (from: string, m: Msg<'job.confirm'>): void { this.apply(this.holder.onConfirm(from, m, this.opts.nowMs())) }
  onCommit (from: string, m: Msg<'job.commit'>): void { this.apply(this.holder.onCommit(from, m, this.opts.nowMs())) }
  voteOwnCommit (jobId: string, term: number, record: JobRecord): boolean { return this.holder.voteOwnCommit(jobId, term, record) }
  onTakeover (from: string, m: Msg<'job.takeover'>): void { this.apply(this.holder.onTakeover(from, m)) }
  noteRecord (record: JobRecord, from?: string): void { this.apply(this.holder.noteRecord(record, from, this.opts.nowMs())) }
  /** The API's cancel here: a tombstone, and job.cancel to every peer of `to` until each acknowledges it (see ReplicaHolder.cancel). */
  cancel (record: JobRecord, to: readonly string[]): void { this.apply(this.holder.cancel(record, to, this.opts.nowMs())) }
  onCancel (from: string, m: Msg<'job.cancel'>): void { this.apply(this.holder.onCancel(from, m, this.opts.nowMs())) }
  onCancelAck (from: string, m: Msg<'job.cancelAck'>): void { this.apply(this.holder.onCancelAck(from, m)) }
  tick (): void { this.apply(this.holder.tick(this.opts.nowMs())) }
  onHandover (from: string, m: Msg<'job.handover'>): void { this.apply(this.holder.onHandover(from, m, this.opts.nowMs())) }

  private apply (effects: HolderEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': this.opts.send(e.to, e.message); break
        case 'takeOver': this.opts.takeOver(e.data); break
        case 'yield': this.opts.yieldJob(e.jobId, e.term); break
        case 'record': this.opts.onRecord(e.record); break
        case 'cancelled':
          this.opts.log.info({ jobId: e.jobId }, 'job cancelled: this node keeps a tombstone and never runs it again')
          this.opts.onCancelled(e.jobId, e.record)
          break
        case 'claim': this.opts.log.info({ jobId: e.jobId, term: e.term, coordinator: e.coordinator }, CLAIM_REASON_TEXT[e.why]); break
        case 'log': this.opts.log[e.level](e.fields, e.msg); break
      }
    }
  }
}
