import { VoteTally } from '../election/replica-set.js'
import type { ExecutorPool, TaskOutcome } from '../jobs/executor-pool.js'
import { FINAL_STATES, PRIORITY_WEIGHT, type JobInput, type JobRecord, type JobSpec } from '../jobs/job-spec.js'
import { Scheduler, type SchedulerConfig, type SchedulerEffect, type WorkerView } from '../jobs/scheduler.js'
import { TaskTimelines, type JobTimeline } from '../jobs/task-timeline.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { Random } from '../util/prng.js'
import type { CodeCache } from './code-cache.js'
import type { ReplicaStore, TakeoverData } from './job-replicas.js'
import type { Logger } from './logger.js'
import { RETURNED_KIND } from './task-worker.js'

// The coordinator side of every node: for the jobs elected to this node (or taken over after
// their coordinator died) it splits the input in an executor, feeds the scheduling core, ships
// tasks and code to workers, replicates the task table and every completed result to the
// job's backups, reduces in an executor, and publishes the result once a majority of the
// replica set accepts it (so a stale coordinator can never publish a second result).

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

interface CoordinatedJob {
  spec: JobSpec
  term: number
  replicaSet: readonly string[]
  record: JobRecord
  chunks: unknown[]
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
  doneLog: Array<[number, string, unknown]>
  /** The majority check before the reduce (see confirmThenReduce). */
  confirm: { tally: VoteTally, sentMs: number, results: unknown[], tasksByPeer: Record<string, number> } | undefined
  commit: { tally: VoteTally, record: JobRecord, sentMs: number } | undefined
  lastSentMs: number
  dirty: boolean
}

export interface JobCoordinatorOptions {
  selfId: string
  pool: ExecutorPool
  code: CodeCache
  replicas: ReplicaStore
  scheduler: Partial<SchedulerConfig>
  random: Random
  log: Logger
  send: (peerId: string, message: RpcMessage) => void
  workers: () => WorkerView[]
  /** The job's backups in election order (excluding this node). */
  backupsFor: (jobId: string) => string[]
  /** Every record change (the local registry keeps them). */
  onRecord: (record: JobRecord) => void
  nowMs: () => number
  wallMs: () => number
  /** A commit was refused for a higher term: the binding yields the job and learns its outcome. */
  onLostCommit: (jobId: string, term: number) => void
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

export class JobCoordinator {
  private readonly jobs = new Map<string, CoordinatedJob>()
  private readonly scheduler: Scheduler
  private progressFlushScheduled = false
  private lastProgressFlushMs = -Infinity
  private stopped = false
  /** Attempts per task with their peers and times, for the dashboard's timeline (bounded). */
  private readonly timelines = new TaskTimelines()

  constructor (private readonly opts: JobCoordinatorOptions) {
    this.scheduler = new Scheduler({ ...opts.scheduler, emitTaskDone: true }, opts.random)
  }

  get activeJobs (): number { return this.jobs.size }
  /** Task attempts of a job this node coordinates or coordinated recently. */
  timeline (jobId: string): JobTimeline | undefined { return this.timelines.get(jobId, this.opts.wallMs()) }
  /** Jobs coordinated here for one submitter (the per-submitter limit counts them). */
  activeJobsOf (submitter: string): number {
    let n = 0
    for (const job of this.jobs.values()) if (job.spec.submitter === submitter) n++
    return n
  }
  coordinates (jobId: string): boolean { return this.jobs.has(jobId) }

  /**
   * The node is stopping: its jobs are left to their backups (or, before they are replicated, to
   * the submitter's resend). The aborts of its own shutdown — a split or reduce cut off by the
   * executor pool closing — are not the job's failure and must never be committed as one.
   */
  stop (): void { this.stopped = true }

  async onSubmit (spec: JobSpec, code: string, input: JobInput, term: number): Promise<void> {
    if (this.stopped) return
    const existing = this.jobs.get(spec.jobId)
    if (existing !== undefined && existing.term >= term) return
    if (this.opts.replicas.get(spec.jobId)?.final !== undefined) return
    const job = this.newJob(spec, term, spec.replicaSet ?? [this.opts.selfId, ...this.opts.backupsFor(spec.jobId)], 'splitting')
    let modulePath: string
    try {
      modulePath = await this.opts.code.put(spec.codeHash, code)
    } catch (err) {
      return this.finish(job, { state: 'failed', error: `job code rejected: ${(err as Error).message}` })
    }
    const arg = input.type === 'json' ? input.value : Buffer.from(input.base64, 'base64')
    const split = await this.opts.pool.run({ id: `${spec.jobId}:split:${term}`, op: 'split', modulePath, codeHash: spec.codeHash, arg, ctx: { jobId: spec.jobId, parts: spec.parts ?? this.defaultParts(), peerId: this.opts.selfId } })
    if (this.jobs.get(spec.jobId) !== job || job.record.state !== 'splitting') return // cancelled or superseded meanwhile
    if (!split.ok) return this.finish(job, { state: 'failed', error: `split failed: ${describe(split)}` })
    if (!Array.isArray(split.value)) return this.finish(job, { state: 'failed', error: 'split did not return a list of chunks' })
    const tasksMax = this.opts.tasksPerJobMax ?? 1_000_000
    if (split.value.length > tasksMax) return this.finish(job, { state: 'failed', error: `split returned ${split.value.length} chunks; this mesh allows at most ${tasksMax} tasks per job (--max-tasks-per-job)` })
    job.chunks = split.value
    this.opts.replicas.track(spec.jobId, job.replicaSet, this.opts.selfId, term)
    this.opts.replicas.keepTable(spec.jobId, spec, job.chunks)
    job.replicaUnacked = new Set(job.replicaSet.filter(p => p !== this.opts.selfId))
    this.sendReplica(job, code)
    this.start(job, new Map())
  }

  /** This node won the job's replica set after its coordinator died: carry on from the replica. */
  adopt (data: TakeoverData): void {
    if (this.stopped) return // the other members claim it again once this node has left
    const previous = this.jobs.get(data.spec.jobId)
    if (previous !== undefined) this.drop(previous)
    const job = this.newJob(data.spec, data.term, data.replicaSet, 'running')
    job.chunks = data.chunks
    const done = new Map<number, unknown>()
    const byPeer: Record<string, number> = {}
    for (const [index, [peer, result]] of data.done) {
      done.set(index, result)
      byPeer[peer] = (byPeer[peer] ?? 0) + 1
    }
    job.restoredByPeer = byPeer
    job.record = { ...job.record, tasksByPeer: byPeer }
    this.start(job, done)
  }

  /** A higher term exists for this job: stop coordinating it, publish nothing. True if it was ours. */
  yieldJob (jobId: string, term: number): boolean {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.term >= term) return false
    this.opts.log.warn({ jobId, term: job.term, newTerm: term }, 'yielding job to a higher term')
    this.drop(job)
    return true
  }

  onTaskResult (from: string, message: Msg<'task.ok'> | Msg<'task.failed'>): void {
    const job = this.jobs.get(message.jobId)
    const attempt = job?.attempts.get(message.attemptId)
    if (job === undefined || attempt?.peerId !== from) return
    job.attempts.delete(message.attemptId)
    const now = this.opts.nowMs()
    if (!(message.t === 'task.failed' && message.kind === 'stale-term')) {
      this.timelines.end(message.jobId, message.attemptId, message.t === 'task.ok' ? 'ok' : 'failed', this.opts.wallMs(), message.t === 'task.ok' ? undefined : `${message.kind}: ${message.error}`)
    }
    if (message.t === 'task.failed' && message.kind === 'stale-term') {
      // A worker has seen this job under a higher term: another node coordinates it now.
      this.opts.onLostCommit(job.spec.jobId, job.term + 1)
      return
    }
    if (message.t === 'task.failed' && message.kind === RETURNED_KIND) {
      this.apply(this.scheduler.step({ type: 'taskReturned', jobId: message.jobId, taskIndex: message.taskIndex, attemptId: message.attemptId }, now))
    } else if (message.t === 'task.ok') {
      job.roundTrips.add(now - attempt.sentMs)
      this.apply(this.scheduler.step({ type: 'taskOk', jobId: message.jobId, taskIndex: message.taskIndex, attemptId: message.attemptId, result: message.value }, now))
    } else {
      // Failures of attempts the scheduler already ended (aborted losers, cancelled jobs) are ignored there.
      this.apply(this.scheduler.step({ type: 'taskFailed', jobId: message.jobId, taskIndex: message.taskIndex, attemptId: message.attemptId, error: `${message.kind}: ${message.error}` }, now))
    }
    job.dirty = true
  }

  onCodeRequest (from: string, hash: string): void {
    for (const job of this.jobs.values()) {
      if (job.spec.codeHash !== hash) continue
      void this.opts.code.get(hash).then(code => { if (code !== undefined) this.opts.send(from, { t: 'code.put', hash, code }) })
      return
    }
  }

  onCommitReply (from: string, m: Msg<'job.commitReply'>): void {
    const job = this.jobs.get(m.jobId)
    const commit = job?.commit
    if (job === undefined || commit === undefined || commit.tally.term !== m.term) return
    const outcome = commit.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'won') this.published(job, commit.record)
    else if (outcome === 'lost') this.opts.onLostCommit(job.spec.jobId, m.promisedTerm)
  }

  cancel (jobId: string): boolean {
    const job = this.jobs.get(jobId)
    if (job === undefined) return false
    if (job.record.state === 'splitting') {
      this.finish(job, { state: 'cancelled' })
      return true
    }
    this.apply(this.scheduler.step({ type: 'cancelJob', jobId }, this.opts.nowMs()))
    return true
  }

  /** Jobs coordinated here, with their state (drain waits for this list to empty). */
  coordinated (): Array<{ jobId: string, state: JobRecord['state'], committing: boolean, replicaSet: readonly string[] }> {
    return [...this.jobs.values()].map(j => ({ jobId: j.spec.jobId, state: j.record.state, committing: j.commit !== undefined, replicaSet: j.replicaSet }))
  }

  /**
   * Drain: ask backup `to` to take the job over (it claims a higher term in the replica set;
   * this node votes for it and yields). Results so far go to the backups first. Only a running
   * job that is not committing can be handed over; false otherwise.
   */
  handOver (jobId: string, to: string): boolean {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.record.state !== 'running' || job.commit !== undefined || !job.replicaSet.includes(to) || to === this.opts.selfId) return false
    this.flushProgress(job)
    this.opts.log.info({ jobId, to, term: job.term }, 'draining: handing job over')
    this.opts.send(to, { t: 'job.handover', jobId, term: job.term })
    return true
  }

  onUnreachable (peerId: string): void {
    this.timelines.loseAllBut(new Set(this.opts.workers().filter(w => w.peerId !== peerId && (w.status === 'alive' || w.status === 'suspect')).map(w => w.peerId)), this.opts.wallMs())
    this.apply(this.scheduler.step({ type: 'peerUnreachable', peerId }, this.opts.nowMs()))
  }

  private sendReplica (job: CoordinatedJob, code: string): void {
    job.replicaSentMs = this.opts.nowMs()
    const resend = job.doneLog.length > 0 ? { done: job.doneLog } : {}
    for (const backup of job.replicaUnacked) {
      this.opts.send(backup, { t: 'job.replica', spec: job.spec, code, chunks: job.chunks, replicaSet: [...job.replicaSet], term: job.term, ...resend })
    }
  }

  onReplicaAck (from: string, m: Msg<'job.replicaAck'>): void {
    const job = this.jobs.get(m.jobId)
    if (job === undefined || m.term !== job.term || !job.replicaUnacked.delete(from)) return
    if (job.replicaUnacked.size === 0) job.doneLog = []
  }

  private resendReplicas (job: CoordinatedJob, now: number): void {
    if (job.replicaUnacked.size === 0 || job.chunks.length === 0 || now - job.replicaSentMs < (this.opts.commitRetryMs ?? 1000)) return
    job.replicaSentMs = now
    void this.opts.code.get(job.spec.codeHash).then(code => {
      if (code !== undefined && this.jobs.get(job.spec.jobId) === job) this.sendReplica(job, code)
    })
  }

  /** Periodic: membership view, timeouts and backups, progress to submitters, commit retries. */
  tick (): void {
    if (this.jobs.size === 0) return
    const now = this.opts.nowMs()
    const workers = this.opts.workers()
    this.apply(this.scheduler.step({ type: 'workers', workers }, now))
    this.timelines.loseAllBut(new Set(workers.filter(w => w.status === 'alive' || w.status === 'suspect').map(w => w.peerId)), this.opts.wallMs())
    this.apply(this.scheduler.step({ type: 'tick' }, now))
    for (const job of this.jobs.values()) {
      this.resendReplicas(job, now)
      if (job.confirm !== undefined && now - job.confirm.sentMs >= (this.opts.commitRetryMs ?? 1000)) this.sendConfirm(job)
      if (job.commit !== undefined && now - job.commit.sentMs >= (this.opts.commitRetryMs ?? 1000)) this.sendCommit(job, job.commit.record)
      else if (job.dirty && now - job.lastSentMs >= (this.opts.progressIntervalMs ?? 200)) this.publish(job)
    }
  }

  private newJob (spec: JobSpec, term: number, replicaSet: readonly string[], state: JobRecord['state']): CoordinatedJob {
    const job: CoordinatedJob = {
      spec,
      term,
      replicaSet,
      record: {
        jobId: spec.jobId, kind: spec.kind, moduleName: spec.moduleName, state, coordinator: this.opts.selfId, term,
        replicaSet: [...replicaSet], submitter: spec.submitter, priority: spec.priority, tasks: 0, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: spec.submittedAtMs,
      },
      chunks: [],
      attempts: new Map(),
      roundTrips: new RoundTrips(),
      restoredByPeer: {},
      progressOut: [],
      replicaUnacked: new Set(),
      replicaSentMs: 0,
      doneLog: [],
      confirm: undefined,
      commit: undefined,
      lastSentMs: 0,
      dirty: true,
    }
    this.jobs.set(spec.jobId, job)
    this.publish(job)
    return job
  }

  private start (job: CoordinatedJob, done: Map<number, unknown>): void {
    job.record = { ...job.record, state: 'running', tasks: job.chunks.length, done: done.size }
    if (job.chunks.length === 0 || done.size >= job.chunks.length) {
      void this.reduce(job, Array.from({ length: job.chunks.length }, (_, i) => done.get(i)), job.record.tasksByPeer)
      return
    }
    const now = this.opts.nowMs()
    this.timelines.begin(job.spec.jobId, job.term, this.opts.selfId, job.chunks.length, done.size, this.opts.wallMs())
    this.apply(this.scheduler.step({ type: 'workers', workers: this.opts.workers() }, now))
    this.apply(this.scheduler.step({ type: 'addJob', jobId: job.spec.jobId, taskCount: job.chunks.length, weight: PRIORITY_WEIGHT[job.spec.priority], done, term: job.term, ...(job.spec.requires !== undefined ? { requires: job.spec.requires } : {}) }, now))
    this.publish(job)
  }

  private defaultParts (): number {
    return Math.max(1, this.opts.workers().filter(w => w.status === 'alive').reduce((n, w) => n + w.slotsTotal, 0) * 4)
  }

  private apply (effects: SchedulerEffect[]): void {
    for (const effect of effects) {
      const job = this.jobs.get(effect.jobId)
      if (job === undefined) continue
      switch (effect.type) {
        case 'assign':
          job.attempts.set(effect.attemptId, { peerId: effect.peerId, sentMs: this.opts.nowMs() })
          this.opts.send(effect.peerId, {
            t: 'task.assign', jobId: effect.jobId, taskIndex: effect.taskIndex, attemptId: effect.attemptId, term: job.term,
            codeHash: job.spec.codeHash, kind: job.spec.kind, parts: job.chunks.length, chunk: job.chunks[effect.taskIndex],
            ...(job.spec.requires?.tools !== undefined && job.spec.requires.tools.length > 0 ? { tools: job.spec.requires.tools } : {}),
          })
          job.dirty = true
          this.timelines.assign(effect.jobId, effect.attemptId, effect.taskIndex, effect.peerId, effect.backup, this.opts.wallMs())
          break
        case 'abort':
          this.timelines.end(effect.jobId, effect.attemptId, 'aborted', this.opts.wallMs())
          job.attempts.delete(effect.attemptId)
          this.opts.send(effect.peerId, { t: 'task.abort', attemptId: effect.attemptId })
          break
        case 'taskDone':
          if (job.replicaSet.length > 1) {
            job.progressOut.push([effect.taskIndex, effect.peerId, effect.result])
            if (job.replicaUnacked.size > 0) job.doneLog.push([effect.taskIndex, effect.peerId, effect.result])
            this.scheduleProgressFlush()
          }
          break
        case 'jobDone':
          this.flushProgress(job)
          this.confirmThenReduce(job, effect.results, mergeCounts(job.restoredByPeer, effect.tasksByPeer))
          break
        case 'jobFailed':
          this.finish(job, { state: 'failed', error: effect.error })
          break
        case 'jobCancelled':
          this.finish(job, { state: 'cancelled' })
          break
      }
    }
  }

  /**
   * Completed results leave for the backups at the end of this event-loop turn, or — if results
   * already left less than replicateIntervalMs ago — when that interval is up: a slow job's
   * results are replicated at once, a fast job's in batches.
   */
  private scheduleProgressFlush (): void {
    if (this.progressFlushScheduled) return
    this.progressFlushScheduled = true
    const flush = (): void => {
      this.progressFlushScheduled = false
      this.lastProgressFlushMs = this.opts.nowMs()
      for (const job of this.jobs.values()) this.flushProgress(job)
    }
    const waitMs = this.lastProgressFlushMs + (this.opts.replicateIntervalMs ?? 25) - this.opts.nowMs()
    if (waitMs <= 0) setImmediate(flush)
    else setTimeout(flush, waitMs).unref()
  }

  private flushProgress (job: CoordinatedJob): void {
    if (job.progressOut.length === 0) return
    const done = job.progressOut
    job.progressOut = []
    this.opts.replicas.noteDone(job.spec.jobId, done)
    for (const backup of job.replicaSet) {
      if (backup !== this.opts.selfId) this.opts.send(backup, { t: 'job.progress', jobId: job.spec.jobId, term: job.term, done })
    }
  }

  /**
   * Before the reduce, a majority of the replica set must still take this term for the job's:
   * a coordinator that was paused or cut off while a backup took over learns it here and
   * yields, instead of reducing a result that could never be committed.
   */
  private confirmThenReduce (job: CoordinatedJob, results: unknown[], tasksByPeer: Record<string, number>): void {
    job.confirm = { tally: new VoteTally(job.replicaSet, job.term, this.opts.selfId), sentMs: 0, results, tasksByPeer }
    if (job.confirm.tally.outcome() === 'won') this.confirmed(job)
    else this.sendConfirm(job)
  }

  private sendConfirm (job: CoordinatedJob): void {
    if (job.confirm === undefined) return
    job.confirm.sentMs = this.opts.nowMs()
    for (const member of job.replicaSet) {
      if (member !== this.opts.selfId) this.opts.send(member, { t: 'job.confirm', jobId: job.spec.jobId, term: job.term })
    }
  }

  onConfirmReply (from: string, m: Msg<'job.confirmReply'>): void {
    const job = this.jobs.get(m.jobId)
    if (job?.confirm === undefined || job.confirm.tally.term !== m.term) return
    const outcome = job.confirm.tally.add(from, m.ok, m.promisedTerm)
    if (outcome === 'won') this.confirmed(job)
    else if (outcome === 'lost') this.opts.onLostCommit(job.spec.jobId, m.promisedTerm)
  }

  private confirmed (job: CoordinatedJob): void {
    const confirm = job.confirm
    if (confirm === undefined) return
    job.confirm = undefined
    void this.reduce(job, confirm.results, confirm.tasksByPeer)
  }

  private async reduce (job: CoordinatedJob, results: unknown[], tasksByPeer: Record<string, number>): Promise<void> {
    const spec = job.spec
    job.record = { ...job.record, state: 'reducing', done: job.chunks.length, inFlight: 0, tasksByPeer }
    if (spec.kind === 'action') {
      return this.finish(job, { state: 'done', result: { kind: 'action', tasks: results.length, succeeded: results.length, tasksByPeer } })
    }
    this.publish(job)
    const reduced = await this.opts.pool.run({ id: `${spec.jobId}:reduce:${job.term}`, op: 'reduce', modulePath: this.opts.code.pathFor(spec.codeHash), codeHash: spec.codeHash, arg: results, ctx: { jobId: spec.jobId, parts: results.length, peerId: this.opts.selfId } })
    if (this.jobs.get(spec.jobId) !== job) return // yielded while reducing
    if (!reduced.ok) return this.finish(job, { state: 'failed', error: `reduce failed: ${describe(reduced)}` })
    this.finish(job, { state: 'done', result: reduced.value })
  }

  /** Build the final record and have the replica set accept it before anyone is told. */
  private finish (job: CoordinatedJob, outcome: Pick<JobRecord, 'state'> & Partial<Pick<JobRecord, 'result' | 'error'>>): void {
    if (this.stopped || FINAL_STATES.has(job.record.state) || job.commit !== undefined) return
    const summary = this.scheduler.job(job.spec.jobId)
    const finishedAtMs = this.opts.wallMs()
    this.timelines.close(job.spec.jobId, finishedAtMs)
    const record: JobRecord = {
      ...job.record,
      ...outcome,
      done: outcome.state === 'done' ? job.record.tasks : summary?.done ?? job.record.done,
      inFlight: 0,
      failures: summary?.failures ?? job.record.failures,
      tasksByPeer: outcome.state === 'done' ? job.record.tasksByPeer : mergeCounts(job.restoredByPeer, summary?.byPeer ?? {}),
      finishedAtMs,
      wallMs: finishedAtMs - job.spec.submittedAtMs,
      ...job.roundTrips.summary(),
    }
    job.chunks = []
    job.attempts.clear()
    this.opts.replicas.track(job.spec.jobId, job.replicaSet, this.opts.selfId, job.term)
    if (!this.opts.replicas.voteOwnCommit(job.spec.jobId, job.term, record)) {
      this.opts.onLostCommit(job.spec.jobId, job.term + 1)
      return
    }
    job.commit = { tally: new VoteTally(job.replicaSet, job.term, this.opts.selfId), record, sentMs: 0 }
    if (job.commit.tally.outcome() === 'won') this.published(job, record)
    else this.sendCommit(job, record)
  }

  private sendCommit (job: CoordinatedJob, record: JobRecord): void {
    if (job.commit === undefined) return
    job.commit.sentMs = this.opts.nowMs()
    for (const member of job.replicaSet) {
      if (member !== this.opts.selfId) this.opts.send(member, { t: 'job.commit', jobId: job.spec.jobId, term: job.term, record })
    }
  }

  private published (job: CoordinatedJob, record: JobRecord): void {
    if (record.state !== 'done') this.opts.log.warn({ jobId: job.spec.jobId, state: record.state, error: record.error }, 'job ended')
    job.record = record
    this.publish(job)
    this.jobs.delete(job.spec.jobId)
  }

  private drop (job: CoordinatedJob): void {
    this.apply(this.scheduler.step({ type: 'cancelJob', jobId: job.spec.jobId }, this.opts.nowMs()).filter(e => e.type === 'abort'))
    this.timelines.close(job.spec.jobId, this.opts.wallMs())
    this.jobs.delete(job.spec.jobId)
  }

  private publish (job: CoordinatedJob): void {
    const s = this.scheduler.job(job.spec.jobId)
    if (s !== undefined && job.record.state === 'running') {
      job.record = { ...job.record, done: s.done, inFlight: s.inFlight, failures: s.failures, tasksByPeer: mergeCounts(job.restoredByPeer, s.byPeer) }
    }
    job.lastSentMs = this.opts.nowMs()
    job.dirty = false
    this.opts.onRecord(job.record)
    const to = new Set([job.spec.submitter, ...(job.spec.standby !== undefined ? [job.spec.standby] : []), ...job.replicaSet])
    to.delete(this.opts.selfId)
    for (const peer of to) this.opts.send(peer, { t: 'job.update', record: job.record })
  }
}

function mergeCounts (a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a }
  for (const [k, n] of Object.entries(b)) out[k] = (out[k] ?? 0) + n
  return out
}

/** A bounded sample of task round trips (every k-th once full), for p50/p99 in the job record. */
class RoundTrips {
  private readonly samples: number[] = []
  private seen = 0
  add (ms: number): void {
    this.seen++
    if (this.samples.length < 50_000) this.samples.push(ms)
    else if (this.seen % 7 === 0) this.samples[this.seen % 50_000] = ms
  }

  summary (): { taskRoundTripMs?: { p50: number, p99: number, samples: number } } {
    if (this.samples.length === 0) return {}
    const sorted = [...this.samples].sort((a, b) => a - b)
    const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) * 1000) / 1000
    return { taskRoundTripMs: { p50: at(0.5), p99: at(0.99), samples: this.seen } }
  }
}

function describe (outcome: TaskOutcome): string {
  return outcome.ok ? 'ok' : `${outcome.kind}: ${outcome.error}`
}
