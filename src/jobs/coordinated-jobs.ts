import { VoteTally } from '../election/replica-set.js'
import { FOLDED } from './folded.js'
import type { ReplicaHolder, TakeoverData } from './replica-holder.js'
import type { Random } from '../util/prng.js'
import { sourceRefOf, type SourceRef } from './input-source.js'
import { FINAL_STATES, guestGrantsOf, PRIORITY_WEIGHT, type JobRecord, type JobSpec } from './job-spec.js'
import { RoundTrips } from './round-trips.js'
import { waitingOf } from './waiting.js'
import { Scheduler, type SchedulerConfig, type SchedulerEffect, type WorkerView } from './scheduler.js'
import type { RpcMessage } from './wire.js'
import { packProgress } from './wire.js'
import { RETURNED_KIND, STALE_TERM_KIND } from './worker-core.js'

// The coordinator's side of every job a node coordinates, as a sans-IO core: split → replicate
// the task table to the backups (again until each acknowledges it) → schedule on the real
// Scheduler → collect results and stream them to the backups → confirm with a majority of the
// replica set that this term still holds the job → reduce → commit with a majority → publish.
// A higher term anywhere (a claim, a refused vote, a worker that saw a takeover) makes it
// yield and publish nothing. Split and reduce run outside (executors in the node, modelled
// time in the simulator): the core asks for them with an effect and is told the outcome.
// Time comes in with every event (`now` for timers, `wall` for the record's timestamps).
// src/node/daemon/job-coordinator.ts and sim/arch/coordinator.ts bind it.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

/** The longest wait between two sends of a job's replica to a backup that has not acknowledged it. */
const REPLICA_RETRY_MAX_MS = 30_000
/**
 * A replica is not sent again sooner than a backup could take to receive, decrypt and parse it at
 * this rate (bytes per ms, i.e. 20 MB/s): the word count's replica is 235 MB of JSON, and copies
 * sent every 1, 2, 4 s while the first was still being read tripled the coordinator's work.
 */
const REPLICA_READ_BYTES_PER_MS = 20_000

/** A worker's answer to an attempt, as the binding read it off the wire. */
export type TaskResult =
  /**
   * `runMs`: how long the task ran in its executor, as the worker measured it. `group`: a group
   * attempt's other results, [taskIndex, value] in the assign's order (`runMs` is then all of them together).
   */
  | { jobId: string, taskIndex: number, attemptId: string, outcome: 'ok', value: unknown, runMs: number, group?: ReadonlyArray<readonly [number, unknown]> }
  /**
   * `error` is the text the scheduler and the timeline keep ("kind: message"); `kind` the
   * worker's failure kind (an executor that died counts toward the poison rule: CRASH_KINDS).
   */
  | { jobId: string, taskIndex: number, attemptId: string, outcome: 'failed', error: string, retryable?: boolean, kind?: string, stack?: string }
  /** The worker handed the task back (its owner needs the machine): re-queue it, no failure counted. */
  | { jobId: string, taskIndex: number, attemptId: string, outcome: 'returned', error: string }
  /** The worker has seen this job under a higher term: another node coordinates it now. */
  | { jobId: string, taskIndex: number, attemptId: string, outcome: 'staleTerm', error: string }

export type Outcome = { ok: true, value: unknown } | { ok: false, error: string }

/** A worker's task.ok or task.failed as the coordinator core takes it: the one reading of failure kinds. */
export function taskResultOf (message: Extract<RpcMessage, { t: 'task.ok' | 'task.failed' }>): TaskResult {
  const { jobId, taskIndex, attemptId } = message
  if (message.t === 'task.ok') {
    // A folded group's other tasks are done, their results inside `value` (src/jobs/folded.ts).
    const group = message.group === undefined ? undefined : message.folded === true ? message.group.map(([i]) => [i, FOLDED] as const) : message.group
    return { jobId, taskIndex, attemptId, outcome: 'ok', value: message.value, runMs: message.ms, ...(group !== undefined ? { group } : {}) }
  }
  const error = `${message.kind}: ${message.error}`
  if (message.kind === STALE_TERM_KIND) return { jobId, taskIndex, attemptId, outcome: 'staleTerm', error }
  if (message.kind === RETURNED_KIND) return { jobId, taskIndex, attemptId, outcome: 'returned', error }
  return { jobId, taskIndex, attemptId, outcome: 'failed', error, kind: message.kind, ...(message.stack !== undefined ? { stack: message.stack } : {}) }
}

export type CoordinatorEffect =
  | { type: 'send', to: string, message: RpcMessage }
  | { type: 'assign', to: string, message: Msg<'task.assign'>, backup: boolean }
  | { type: 'abort', to: string, jobId: string, attemptId: string }
  /** An attempt's answer was accepted (for the dashboard's timeline). */
  | { type: 'attemptEnded', jobId: string, attemptId: string, ok: boolean, error?: string }
  /** The scheduler accepted a task's result. */
  | { type: 'taskDone', jobId: string, taskIndex: number }
  /** Run the split; answer with splitDone (or splitFailed). */
  | { type: 'split', jobId: string, instance: number, term: number }
  /** Run the reduce over `results` (chunk order); answer with reduced. */
  | { type: 'reduce', jobId: string, instance: number, term: number, spec: JobSpec, results: unknown[] }
  /** Send the replica (it carries the job's code, which the binding holds): see replicaMessage. */
  | { type: 'sendReplica', jobId: string, instance: number }
  /**
   * Results wait for the backups: call flushProgress after `afterMs` — 0: at the end of this
   * event-loop turn (results are rare); else when replicateIntervalMs since the last batch is up.
   */
  | { type: 'flushLater', afterMs: number }
  /** The job is coordinated here from now on, under `term`. */
  | { type: 'coordinating', jobId: string, term: number, replicaSet: readonly string[] }
  /** Scheduling begins (timeline). */
  | { type: 'started', jobId: string, term: number, tasks: number, done: number }
  /** No more attempts for the job here (timeline). */
  | { type: 'closed', jobId: string }
  /** The final record goes to a commit round (the simulator's double-publish injection hooks here). */
  | { type: 'committing', jobId: string, record: JobRecord }
  /** Every change of the job's record (the local registry keeps them). */
  | { type: 'record', record: JobRecord }
  /** A majority accepted the commit: `record` is the job's one outcome. */
  | { type: 'published', jobId: string, term: number, record: JobRecord }
  /** A higher term exists: the job is no longer coordinated here (learn its outcome elsewhere). */
  | { type: 'yielded', jobId: string, term: number }
  | { type: 'log', level: 'info' | 'warn', msg: string, fields: Record<string, unknown> }

interface CoordinatedJob {
  instance: number
  spec: JobSpec
  term: number
  replicaSet: readonly string[]
  record: JobRecord
  chunks: readonly unknown[]
  /** What every assign of a job with stored input says about reading it (computed once). */
  sourceRef: SourceRef | undefined
  /** attemptId → worker and send time; a result is accepted only from the worker that got the task. */
  attempts: Map<string, { peerId: string, sentMs: number }>
  roundTrips: RoundTrips
  /** Tasks per peer completed under earlier terms (restored at takeover). */
  restoredByPeer: Record<string, number>
  /** Completed tasks not yet sent to the backups: [taskIndex, peer, result]. */
  progressOut: Array<[number, string, unknown]>
  /**
   * Backups that have not yet confirmed holding the replica (job.replicaAck). The replica is
   * sent again every retry interval, with every result completed so far (`doneLog`), because
   * a backup without it can never take the job over — nor keep the results it missed.
   */
  replicaUnacked: Set<string>
  replicaSentMs: number
  /**
   * Doubles with every re-send, up to REPLICA_RETRY_MAX_MS: a big replica (the word count's is
   * 100 MB) can take a loaded backup longer than the retry interval to read and acknowledge, and
   * re-sending it every second then kept every node busy with copies — heartbeats went late,
   * peers were suspected, the job was claimed and resubmitted again and again.
   */
  replicaRetryMs: number
  doneLog: Array<[number, string, unknown]>
  /** The majority check before the reduce (see confirmThenReduce). */
  confirm: { tally: VoteTally, sentMs: number, results: unknown[], tasksByPeer: Record<string, number> } | undefined
  commit: { tally: VoteTally, record: JobRecord, sentMs: number } | undefined
  lastSentMs: number
  dirty: boolean
}

export interface CoordinatorView {
  readonly selfId: string
  /** The membership view as the scheduler sees it. */
  workers: () => WorkerView[]
}

export interface CoordinatorConfig {
  scheduler: Partial<SchedulerConfig>
  random: Random
  /** A split into more chunks than this fails the job (default 1 000 000). */
  tasksPerJobMax?: number
  progressIntervalMs?: number
  /**
   * Completed results go to the backups at most this often (default 25 ms), many per message:
   * sent once per event-loop turn they were the coordinator's most frequent socket write (about
   * one job.progress per backup for every 2 tasks of the empty-task benchmark). A coordinator
   * that dies loses at most this much completed work, which its successor runs again.
   */
  replicateIntervalMs?: number
  commitRetryMs?: number
}

export class CoordinatedJobs {
  private readonly jobs = new Map<string, CoordinatedJob>()
  readonly scheduler: Scheduler
  private out: CoordinatorEffect[] = []
  private flushPending = false
  private lastFlushMs = -Infinity
  private instances = 0
  private stopped = false

  /** `replicas`: this node's ReplicaHolder, where the coordinator registers and votes on its own commit. */
  constructor (private readonly view: CoordinatorView, private readonly config: CoordinatorConfig, private readonly replicas: ReplicaHolder) {
    this.scheduler = new Scheduler({ ...config.scheduler, emitTaskDone: true }, config.random, view.selfId)
  }

  get size (): number { return this.jobs.size }
  coordinates (jobId: string): boolean { return this.jobs.has(jobId) }
  instanceOf (jobId: string): number | undefined { return this.jobs.get(jobId)?.instance }
  spec (jobId: string): JobSpec | undefined { return this.jobs.get(jobId)?.spec }
  specs (): IterableIterator<JobSpec> { return mapIter(this.jobs.values(), j => j.spec) }
  /** Jobs coordinated here for one submitter (the per-submitter limit counts them). */
  activeJobsOf (submitter: string): number {
    let n = 0
    for (const job of this.jobs.values()) if (job.spec.submitter === submitter) n++
    return n
  }

  /** Jobs coordinated here, with their state (drain waits for this list to empty). */
  coordinated (): Array<{ jobId: string, state: JobRecord['state'], committing: boolean, replicaSet: readonly string[] }> {
    return [...this.jobs.values()].map(j => ({ jobId: j.spec.jobId, state: j.record.state, committing: j.commit !== undefined, replicaSet: j.replicaSet }))
  }

  /**
   * The node is stopping: its jobs are left to their backups (or, before they are replicated, to
   * the submitter's resend). The aborts of its own shutdown — a split or reduce cut off by the
   * executor pool closing — are not the job's failure and must never be committed as one.
   */
  stop (): void { this.stopped = true }

  /** job.submit under `term` with the job's replica set: split it (the `split` effect) unless a term this high is known. */
  submit (spec: JobSpec, term: number, replicaSet: readonly string[], now: number): CoordinatorEffect[] {
    if (this.stopped) return this.flush()
    const existing = this.jobs.get(spec.jobId)
    if (existing !== undefined && existing.term >= term) return this.flush()
    if (this.replicas.get(spec.jobId)?.final !== undefined) return this.flush()
    if (this.replicas.isCancelled(spec.jobId)) {
      // Sent again after it was cancelled (the submitter never heard): it runs nowhere, and the submitter is told.
      this.out.push({ type: 'log', level: 'info', msg: 'job submitted again after it was cancelled: not run', fields: { jobId: spec.jobId, term } })
      for (const to of new Set([spec.submitter, ...(spec.standby !== undefined ? [spec.standby] : [])])) {
        if (to !== this.view.selfId) this.send(to, { t: 'job.cancel', jobId: spec.jobId })
      }
      return this.flush()
    }
    const job = this.newJob(spec, term, replicaSet, 'splitting', now)
    this.out.push({ type: 'split', jobId: spec.jobId, instance: job.instance, term })
    return this.flush()
  }

  /** The split could not run (code rejected, the executor failed): the job fails. */
  splitFailed (jobId: string, instance: number, error: string, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(jobId)
    if (job?.instance === instance) this.finish(job, { state: 'failed', error }, now, wall)
    return this.flush()
  }

  /** The split returned `value`: check it, replicate the task table and start scheduling. */
  splitDone (jobId: string, instance: number, value: unknown, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(jobId)
    if (job?.instance !== instance || job.record.state !== 'splitting') return this.flush() // cancelled or superseded meanwhile
    if (!Array.isArray(value)) {
      this.finish(job, { state: 'failed', error: 'split did not return a list of chunks' }, now, wall)
      return this.flush()
    }
    const tasksMax = this.config.tasksPerJobMax ?? 1_000_000
    if (value.length > tasksMax) {
      this.finish(job, { state: 'failed', error: `split returned ${value.length} chunks; this mesh allows at most ${tasksMax} tasks per job (--max-tasks-per-job)` }, now, wall)
      return this.flush()
    }
    job.chunks = value
    const self = this.view.selfId
    this.replicas.track(jobId, job.replicaSet, self, job.term, now)
    this.replicas.keepTable(jobId, job.spec, job.chunks)
    job.replicaUnacked = new Set(job.replicaSet.filter(p => p !== self))
    job.record = { ...job.record, replicated: job.replicaUnacked.size === 0 }
    job.replicaSentMs = now
    if (job.replicaUnacked.size > 0) this.out.push({ type: 'sendReplica', jobId, instance })
    this.start(job, new Map(), now, wall)
    return this.flush()
  }

  /**
   * The replica message of a job (without its code) and the backups that still need it; undefined
   * if the job is no longer coordinated by that instance. The binding adds the code and sends it.
   */
  replicaMessage (jobId: string, instance: number, now: number): { to: string[], message: Omit<Msg<'job.replica'>, 'code'> } | undefined {
    const job = this.jobs.get(jobId)
    if (job?.instance !== instance || job.replicaUnacked.size === 0) return undefined
    job.replicaSentMs = now
    const resend = job.doneLog.length > 0 ? { done: job.doneLog } : {}
    return { to: [...job.replicaUnacked], message: { t: 'job.replica', spec: job.spec, chunks: job.chunks as unknown[], replicaSet: [...job.replicaSet], term: job.term, ...resend } }
  }

  /** This node won the job's replica set after its coordinator died: carry on from the replica. */
  adopt (data: TakeoverData, now: number, wall: number): CoordinatorEffect[] {
    if (this.stopped) return this.flush() // the other members claim it again once this node has left
    if (this.replicas.isCancelled(data.spec.jobId)) return this.flush() // the holder takes no cancelled job over; defensive
    const previous = this.jobs.get(data.spec.jobId)
    if (previous !== undefined) this.drop(previous, now)
    const job = this.newJob(data.spec, data.term, data.replicaSet, 'running', now)
    job.chunks = data.chunks
    const done = new Map<number, unknown>()
    const byPeer: Record<string, number> = {}
    for (const [index, [peer, result]] of data.done) {
      done.set(index, result)
      byPeer[peer] = (byPeer[peer] ?? 0) + 1
    }
    job.restoredByPeer = byPeer
    // The members already hold the job (this node won their votes with its copy).
    job.record = { ...job.record, tasksByPeer: byPeer, replicated: true }
    this.start(job, done, now, wall)
    return this.flush()
  }

  /** A higher term exists for this job: stop coordinating it, publish nothing (a `yielded` effect if it was ours). */
  yieldJob (jobId: string, term: number, now: number): CoordinatorEffect[] {
    this.yieldTo(jobId, term, now)
    return this.flush()
  }

  taskResult (from: string, r: TaskResult, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(r.jobId)
    const attempt = job?.attempts.get(r.attemptId)
    if (job === undefined || attempt?.peerId !== from) return this.flush()
    job.attempts.delete(r.attemptId)
    if (r.outcome === 'staleTerm') {
      this.yieldTo(job.spec.jobId, job.term + 1, now)
      return this.flush()
    }
    this.out.push(r.outcome === 'ok' ? { type: 'attemptEnded', jobId: r.jobId, attemptId: r.attemptId, ok: true } : { type: 'attemptEnded', jobId: r.jobId, attemptId: r.attemptId, ok: false, error: r.error })
    if (r.outcome === 'returned') {
      this.apply(this.scheduler.step({ type: 'taskReturned', jobId: r.jobId, taskIndex: r.taskIndex, attemptId: r.attemptId }, now), now, wall)
    } else if (r.outcome === 'ok') {
      job.roundTrips.add(now - attempt.sentMs)
      this.apply(this.scheduler.step({ type: 'taskOk', jobId: r.jobId, taskIndex: r.taskIndex, attemptId: r.attemptId, result: r.value, runMs: r.runMs, ...(r.group !== undefined ? { group: r.group } : {}) }, now), now, wall)
    } else {
      // Failures of attempts the scheduler already ended (aborted losers, cancelled jobs) are ignored there.
      this.apply(this.scheduler.step({ type: 'taskFailed', jobId: r.jobId, taskIndex: r.taskIndex, attemptId: r.attemptId, error: r.error, ...(r.retryable !== undefined ? { retryable: r.retryable } : {}), ...(r.kind !== undefined ? { kind: r.kind } : {}), ...(r.stack !== undefined ? { stack: r.stack } : {}) }, now), now, wall)
    }
    job.dirty = true
    return this.flush()
  }

  /** The binding encoded the replica into `bytes`: the next re-send waits at least as long as reading it may take. */
  replicaSize (jobId: string, instance: number, bytes: number): void {
    const job = this.jobs.get(jobId)
    if (job?.instance !== instance) return
    job.replicaRetryMs = Math.min(REPLICA_RETRY_MAX_MS, Math.max(job.replicaRetryMs, Math.ceil(bytes / REPLICA_READ_BYTES_PER_MS)))
  }

  replicaAck (from: string, m: Msg<'job.replicaAck'>): void {
    const job = this.jobs.get(m.jobId)
    if (job === undefined || m.term !== job.term || !job.replicaUnacked.delete(from)) return
    if (job.replicaUnacked.size > 0) return
    job.doneLog = []
    // The submitter lets go of the job once its record says so.
    job.record = { ...job.record, replicated: true }
    job.dirty = true
  }

  confirmReply (from: string, m: Msg<'job.confirmReply'>, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(m.jobId)
    if (job?.confirm === undefined || job.confirm.tally.term !== m.term) return this.flush()
    const outcome = job.confirm.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'won') this.confirmed(job, now, wall)
    else if (outcome === 'lost') this.yieldTo(job.spec.jobId, m.promisedTerm, now)
    return this.flush()
  }

  commitReply (from: string, m: Msg<'job.commitReply'>, now: number): CoordinatorEffect[] {
    const job = this.jobs.get(m.jobId)
    const commit = job?.commit
    if (job === undefined || commit === undefined || commit.tally.term !== m.term) return this.flush()
    const outcome = commit.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'won') this.published(job, commit.record, now)
    else if (outcome === 'lost') this.yieldTo(job.spec.jobId, m.promisedTerm, now)
    return this.flush()
  }

  /** The reduce ran (or failed): the final record goes to a commit round. */
  reduced (jobId: string, instance: number, outcome: Outcome, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(jobId)
    if (job?.instance !== instance) return this.flush() // yielded while reducing
    if (!outcome.ok) this.finish(job, { state: 'failed', error: `reduce failed: ${outcome.error}` }, now, wall)
    else this.finish(job, { state: 'done', result: outcome.value }, now, wall)
    return this.flush()
  }

  /**
   * Cancel a job coordinated here (check `coordinates` first): its attempts are aborted and
   * 'cancelled' goes to a commit round — also while it waits for its confirm or reduces. A job
   * whose final record is already in its commit round keeps it (a result, once offered to the
   * replica set, may have been accepted by a majority).
   */
  cancel (jobId: string, now: number, wall: number): CoordinatorEffect[] {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.commit !== undefined || FINAL_STATES.has(job.record.state)) return this.flush()
    if (this.scheduler.job(jobId)?.state === 'running') this.apply(this.scheduler.step({ type: 'cancelJob', jobId }, now), now, wall)
    else this.finish(job, { state: 'cancelled' }, now, wall)
    return this.flush()
  }

  /**
   * Drain: ask backup `to` to take the job over (it claims a higher term in the replica set;
   * this node votes for it and yields). Results so far go to the backups first. Only a running
   * job that is not committing can be handed over; false otherwise.
   */
  handOver (jobId: string, to: string): CoordinatorEffect[] | false {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.record.state !== 'running' || job.commit !== undefined || !job.replicaSet.includes(to) || to === this.view.selfId) return false
    this.flushJob(job)
    this.out.push({ type: 'log', level: 'info', msg: 'draining: handing job over', fields: { jobId, to, term: job.term } })
    this.send(to, { t: 'job.handover', jobId, term: job.term })
    return this.flush()
  }

  /** `left`: the peer announced that it leaves (a graceful stop): its lost attempts do not count toward the poison rule. */
  peerUnreachable (peerId: string, now: number, wall: number, left = false): CoordinatorEffect[] {
    this.apply(this.scheduler.step({ type: 'peerUnreachable', peerId, ...(left ? { left } : {}) }, now), now, wall)
    return this.flush()
  }

  /** Periodic: membership view, timeouts and backups, replica re-sends, progress to submitters, confirm and commit retries. */
  tick (workers: WorkerView[], now: number, wall: number): CoordinatorEffect[] {
    if (this.jobs.size === 0) return this.flush()
    this.apply(this.scheduler.step({ type: 'workers', workers }, now), now, wall)
    this.apply(this.scheduler.step({ type: 'tick' }, now), now, wall)
    const retryMs = this.config.commitRetryMs ?? 1000
    for (const job of this.jobs.values()) {
      this.noteWaiting(job, workers)
      if (job.replicaUnacked.size > 0 && job.chunks.length > 0 && now - job.replicaSentMs >= job.replicaRetryMs) {
        job.replicaSentMs = now
        job.replicaRetryMs = Math.min(job.replicaRetryMs * 2, REPLICA_RETRY_MAX_MS)
        this.out.push({ type: 'sendReplica', jobId: job.spec.jobId, instance: job.instance })
      }
      if (job.confirm !== undefined && now - job.confirm.sentMs >= retryMs) this.sendConfirm(job, now)
      if (job.commit !== undefined && now - job.commit.sentMs >= retryMs) this.sendCommit(job, job.commit.record, now)
      else if (job.dirty && now - job.lastSentMs >= (this.config.progressIntervalMs ?? 200)) this.publish(job, now)
    }
    return this.flush()
  }

  /** Puts why the job waits (or that it no longer does) in its record; a change is published with the next progress. */
  private noteWaiting (job: CoordinatedJob, workers: readonly WorkerView[]): void {
    if (job.commit !== undefined || FINAL_STATES.has(job.record.state)) return
    const s = this.scheduler.job(job.spec.jobId)
    const waiting = waitingOf({
      state: job.record.state,
      selfId: this.view.selfId,
      pending: s?.queued ?? 0,
      inFlight: s?.inFlight ?? 0,
      requires: job.spec.requires,
      workers,
    })
    const before = job.record.waiting
    if (before?.reason === waiting?.reason && before?.detail === waiting?.detail) return
    const rest = withoutWaiting(job.record)
    job.record = waiting === undefined ? rest : { ...rest, waiting }
    job.dirty = true
  }

  /** Completed results leave for the backups, many per message (after `flushLater`). */
  flushProgress (now: number): CoordinatorEffect[] {
    this.flushPending = false
    this.lastFlushMs = now
    for (const job of this.jobs.values()) this.flushJob(job)
    return this.flush()
  }

  private newJob (spec: JobSpec, term: number, replicaSet: readonly string[], state: JobRecord['state'], now: number): CoordinatedJob {
    const self = this.view.selfId
    const job: CoordinatedJob = {
      instance: ++this.instances,
      spec,
      term,
      replicaSet,
      record: {
        jobId: spec.jobId, kind: spec.kind, moduleName: spec.moduleName, state, coordinator: self, term,
        replicaSet: [...replicaSet], submitter: spec.submitter, priority: spec.priority, tasks: 0, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: spec.submittedAtMs,
        replicated: false,
      },
      chunks: [],
      // A module that splits the input itself (records 'whole') makes chunks of its own.
      sourceRef: spec.source !== undefined && spec.source.records?.whole !== true ? sourceRefOf(spec.source) : undefined,
      attempts: new Map(),
      roundTrips: new RoundTrips(),
      restoredByPeer: {},
      progressOut: [],
      replicaUnacked: new Set(),
      replicaSentMs: 0,
      replicaRetryMs: this.config.commitRetryMs ?? 1000,
      doneLog: [],
      confirm: undefined,
      commit: undefined,
      lastSentMs: 0,
      dirty: true,
    }
    this.jobs.set(spec.jobId, job)
    this.out.push({ type: 'coordinating', jobId: spec.jobId, term, replicaSet })
    this.publish(job, now)
    return job
  }

  private start (job: CoordinatedJob, done: Map<number, unknown>, now: number, wall: number): void {
    job.record = { ...withoutWaiting(job.record), state: 'running', tasks: job.chunks.length, done: done.size }
    if (job.chunks.length === 0 || done.size >= job.chunks.length) {
      this.reduce(job, Array.from({ length: job.chunks.length }, (_, i) => done.get(i)), job.record.tasksByPeer, now, wall)
      return
    }
    this.out.push({ type: 'started', jobId: job.spec.jobId, term: job.term, tasks: job.chunks.length, done: done.size })
    this.apply(this.scheduler.step({ type: 'workers', workers: this.view.workers() }, now), now, wall)
    this.apply(this.scheduler.step({ type: 'addJob', jobId: job.spec.jobId, taskCount: job.chunks.length, weight: PRIORITY_WEIGHT[job.spec.priority], done, term: job.term, ...(job.spec.requires !== undefined ? { requires: job.spec.requires } : {}), ...(job.spec.combine === true ? { combine: true } : {}), ...(job.spec.retry !== undefined ? { retry: job.spec.retry } : {}) }, now), now, wall)
    this.publish(job, now)
  }

  private apply (effects: SchedulerEffect[], now: number, wall: number): void {
    for (const effect of effects) {
      const job = this.jobs.get(effect.jobId)
      if (job === undefined) continue
      switch (effect.type) {
        case 'assign': {
          job.attempts.set(effect.attemptId, { peerId: effect.peerId, sentMs: now })
          const tools = job.spec.requires?.tools
          const message: Msg<'task.assign'> = {
            t: 'task.assign', jobId: effect.jobId, taskIndex: effect.taskIndex, attemptId: effect.attemptId, term: job.term,
            codeHash: job.spec.codeHash, kind: job.spec.kind, parts: job.chunks.length, chunk: job.chunks[effect.taskIndex],
          }
          if (tools !== undefined && tools.length > 0) message.tools = tools
          const guest = guestGrantsOf(job.spec)
          if (guest !== undefined) message.guest = guest
          if (job.sourceRef !== undefined) message.source = job.sourceRef
          if (job.spec.combine === true) message.combine = true
          if (effect.group !== undefined) message.group = effect.group.map(i => [i, job.chunks[i]])
          this.out.push({ type: 'assign', to: effect.peerId, backup: effect.backup, message })
          job.dirty = true
          break
        }
        case 'abort':
          job.attempts.delete(effect.attemptId)
          this.out.push({ type: 'abort', to: effect.peerId, jobId: effect.jobId, attemptId: effect.attemptId })
          break
        case 'taskDone':
          this.out.push({ type: 'taskDone', jobId: effect.jobId, taskIndex: effect.taskIndex })
          if (job.replicaSet.length > 1) {
            job.progressOut.push([effect.taskIndex, effect.peerId, effect.result])
            if (job.replicaUnacked.size > 0) job.doneLog.push([effect.taskIndex, effect.peerId, effect.result])
            if (!this.flushPending) {
              this.flushPending = true
              this.out.push({ type: 'flushLater', afterMs: Math.max(0, this.lastFlushMs + (this.config.replicateIntervalMs ?? 25) - now) })
            }
          }
          break
        case 'jobDone':
          this.flushJob(job)
          this.confirmThenReduce(job, effect.results, mergeCounts(job.restoredByPeer, effect.tasksByPeer), now, wall)
          break
        case 'jobFailed':
          this.finish(job, { state: 'failed', error: effect.error, ...(effect.failure !== undefined ? { failure: effect.failure } : {}) }, now, wall)
          break
        case 'jobCancelled':
          this.finish(job, { state: 'cancelled' }, now, wall)
          break
      }
    }
  }

  private flushJob (job: CoordinatedJob): void {
    if (job.progressOut.length === 0) return
    const done = job.progressOut
    job.progressOut = []
    this.replicas.noteDone(job.spec.jobId, done)
    // One message object for every backup: the binding encodes it once (see daemon.send).
    const message: RpcMessage = { t: 'job.progress', jobId: job.spec.jobId, term: job.term, ...packProgress(done) }
    for (const backup of job.replicaSet) {
      if (backup !== this.view.selfId) this.send(backup, message)
    }
  }

  /**
   * Before the reduce, a majority of the replica set must still take this term for the job's:
   * a coordinator that was paused or cut off while a backup took over learns it here and
   * yields, instead of reducing a result that could never be committed.
   */
  private confirmThenReduce (job: CoordinatedJob, results: unknown[], tasksByPeer: Record<string, number>, now: number, wall: number): void {
    job.confirm = { tally: new VoteTally(job.replicaSet, job.term, this.view.selfId), sentMs: 0, results, tasksByPeer }
    if (job.confirm.tally.outcome() === 'won') this.confirmed(job, now, wall)
    else this.sendConfirm(job, now)
  }

  private sendConfirm (job: CoordinatedJob, now: number): void {
    if (job.confirm === undefined) return
    job.confirm.sentMs = now
    for (const member of job.replicaSet) {
      if (member !== this.view.selfId) this.send(member, { t: 'job.confirm', jobId: job.spec.jobId, term: job.term })
    }
  }

  private confirmed (job: CoordinatedJob, now: number, wall: number): void {
    const confirm = job.confirm
    if (confirm === undefined) return
    job.confirm = undefined
    this.reduce(job, confirm.results, confirm.tasksByPeer, now, wall)
  }

  private reduce (job: CoordinatedJob, results: unknown[], tasksByPeer: Record<string, number>, now: number, wall: number): void {
    const spec = job.spec
    job.record = { ...withoutWaiting(job.record), state: 'reducing', done: job.chunks.length, inFlight: 0, tasksByPeer }
    if (spec.kind === 'action') {
      this.finish(job, { state: 'done', result: { kind: 'action', tasks: results.length, succeeded: results.length, tasksByPeer } }, now, wall)
      return
    }
    this.publish(job, now)
    this.out.push({ type: 'reduce', jobId: spec.jobId, instance: job.instance, term: job.term, spec, results })
  }

  /** Build the final record and have the replica set accept it before anyone is told. */
  private finish (job: CoordinatedJob, outcome: Pick<JobRecord, 'state'> & Partial<Pick<JobRecord, 'result' | 'error' | 'failure'>>, now: number, wall: number): void {
    if (this.stopped || FINAL_STATES.has(job.record.state) || job.commit !== undefined) return
    job.confirm = undefined // a cancel while the confirm was out: no reduce follows
    const summary = this.scheduler.job(job.spec.jobId)
    this.out.push({ type: 'closed', jobId: job.spec.jobId })
    const record: JobRecord = {
      ...withoutWaiting(job.record),
      ...outcome,
      done: outcome.state === 'done' ? job.record.tasks : summary?.done ?? job.record.done,
      inFlight: 0,
      failures: summary?.failures ?? job.record.failures,
      tasksByPeer: outcome.state === 'done' ? job.record.tasksByPeer : mergeCounts(job.restoredByPeer, summary?.byPeer ?? {}),
      finishedAtMs: wall,
      wallMs: wall - job.spec.submittedAtMs,
      ...job.roundTrips.summary(),
    }
    job.chunks = []
    job.attempts.clear()
    this.replicas.track(job.spec.jobId, job.replicaSet, this.view.selfId, job.term, now)
    if (!this.replicas.voteOwnCommit(job.spec.jobId, job.term, record)) {
      this.yieldTo(job.spec.jobId, job.term + 1, now)
      return
    }
    job.commit = { tally: new VoteTally(job.replicaSet, job.term, this.view.selfId), record, sentMs: 0 }
    this.out.push({ type: 'committing', jobId: job.spec.jobId, record })
    if (job.commit.tally.outcome() === 'won') this.published(job, record, now)
    else this.sendCommit(job, record, now)
  }

  private sendCommit (job: CoordinatedJob, record: JobRecord, now: number): void {
    if (job.commit === undefined) return
    job.commit.sentMs = now
    for (const member of job.replicaSet) {
      if (member !== this.view.selfId) this.send(member, { t: 'job.commit', jobId: job.spec.jobId, term: job.term, record })
    }
  }

  private published (job: CoordinatedJob, record: JobRecord, now: number): void {
    if (record.state !== 'done') this.out.push({ type: 'log', level: 'warn', msg: 'job ended', fields: { jobId: job.spec.jobId, state: record.state, error: record.error } })
    job.record = record
    this.publish(job, now)
    this.jobs.delete(job.spec.jobId)
    this.out.push({ type: 'published', jobId: job.spec.jobId, term: job.term, record })
  }

  private yieldTo (jobId: string, term: number, now: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.term >= term) return
    this.out.push({ type: 'log', level: 'warn', msg: 'yielding job to a higher term', fields: { jobId, term: job.term, newTerm: term } })
    this.drop(job, now)
    this.out.push({ type: 'yielded', jobId, term })
  }

  private drop (job: CoordinatedJob, now: number): void {
    for (const e of this.scheduler.step({ type: 'cancelJob', jobId: job.spec.jobId }, now)) {
      if (e.type !== 'abort') continue
      job.attempts.delete(e.attemptId)
      this.out.push({ type: 'abort', to: e.peerId, jobId: e.jobId, attemptId: e.attemptId })
    }
    this.out.push({ type: 'closed', jobId: job.spec.jobId })
    this.jobs.delete(job.spec.jobId)
  }

  private publish (job: CoordinatedJob, now: number): void {
    const s = this.scheduler.job(job.spec.jobId)
    if (s !== undefined && job.record.state === 'running') {
      job.record = { ...job.record, done: s.done, inFlight: s.inFlight, failures: s.failures, tasksByPeer: mergeCounts(job.restoredByPeer, s.byPeer) }
    }
    job.lastSentMs = now
    job.dirty = false
    this.out.push({ type: 'record', record: job.record })
    const to = new Set([job.spec.submitter, ...(job.spec.standby !== undefined ? [job.spec.standby] : []), ...job.replicaSet])
    to.delete(this.view.selfId)
    for (const peer of to) this.send(peer, { t: 'job.update', record: job.record })
  }

  private send (to: string, message: RpcMessage): void { this.out.push({ type: 'send', to, message }) }

  private flush (): CoordinatorEffect[] {
    if (this.out.length === 0) return NONE as CoordinatorEffect[]
    const out = this.out
    this.out = []
    return out
  }
}

/** Returned when an event has no effect (most task results at a busy coordinator): nothing to allocate. */
const NONE: readonly CoordinatorEffect[] = Object.freeze([])

function withoutWaiting (record: JobRecord): JobRecord {
  if (record.waiting === undefined) return record
  const { waiting: _waiting, ...rest } = record
  return rest
}

function mergeCounts (a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a }
  for (const [k, n] of Object.entries(b)) out[k] = (out[k] ?? 0) + n
  return out
}

function * mapIter<T, U> (it: Iterable<T>, f: (t: T) => U): IterableIterator<U> {
  for (const t of it) yield f(t)
}
