import { CoordinatedJobs, taskResultOf, type CoordinatorEffect } from '../../jobs/coordinated-jobs.js'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { jsonText } from '../../jobs/raw-json.js'
import { encodeResultsFile } from '../executor/executor-protocol.js'
import { unfolded } from '../../jobs/folded.js'
import type { ExecutorPool, TaskOutcome } from '../executor/executor-pool.js'
import { guestGrantsOf, type JobInput, type JobRecord, type JobSpec } from '../../jobs/job-spec.js'
import type { SchedulerConfig, WorkerView } from '../../jobs/scheduler.js'
import { attemptNumber, TaskTimelines, type JobTimeline } from '../../jobs/task-timeline.js'
import { JobLogs, type LogPage } from '../../jobs/task-logs.js'
import type { RpcMessage } from '../../jobs/wire.js'
import { planSplits, type InputSplit, type SourceRef } from '../../jobs/input-source.js'
import type { Random } from '../../util/prng.js'
import type { CodeCache } from './code-cache.js'
import type { ReplicaStore, TakeoverData } from './job-replicas.js'
import type { Logger } from '../host/logger.js'

// The coordinator side of every node, bound to executors, the code cache and the RPC layer.
// The job lifecycle — split, replicate until acknowledged, schedule, confirm, reduce, commit,
// publish, yield to a higher term — is the CoordinatedJobs core (src/jobs/coordinated-jobs.ts),
// which the simulator runs too. This file runs the split and reduce in executors, ships code
// and replicas, sends what the core says, and keeps the dashboard's task timelines.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export interface JobCoordinatorOptions {
  selfId: string
  pool: ExecutorPool
  code: CodeCache
  replicas: ReplicaStore
  scheduler: Partial<SchedulerConfig>
  random: Random
  log: Logger
  /** Returns the encoded size in bytes (0 for a message to this node itself). */
  send: (peerId: string, message: RpcMessage) => number
  workers: () => WorkerView[]
  /** The job's backups in election order (excluding this node). */
  backupsFor: (jobId: string) => string[]
  /** Every record change (the local registry keeps them). */
  onRecord: (record: JobRecord) => void
  nowMs: () => number
  wallMs: () => number
  /** Reads stored input: the whole file of a job whose module splits it (`records: 'whole'`). */
  inputs: { read: (split: InputSplit, ref: SourceRef) => Promise<Buffer> }
  /** The job's scratch dir on this node (ctx.scratchDir of split and reduce, as of map) and the workspace the sandbox grants. */
  scratchDirFor: (jobId: string, codeHash: string) => { scratchDir: string, workspaceDir: string }
  /** Whether the node still holds the job's record: its task output is kept as long (default: while it coordinates the job). */
  holdsRecord?: (jobId: string) => boolean
  /** The job was yielded to a higher term (a claim, a refused vote, a stale-term worker): learn its outcome elsewhere. */
  onYielded: (jobId: string, term: number) => void
  /** A split into more chunks than this fails the job (default 1 000 000). */
  tasksPerJobMax?: number
  progressIntervalMs?: number
  /** Completed results go to the backups at most this often (default 25 ms): see CoordinatorConfig. */
  replicateIntervalMs?: number
  commitRetryMs?: number
}

export class JobCoordinator {
  private readonly core: CoordinatedJobs
  private progressFlushScheduled = false
  /** Attempts per task with their peers and times, for the dashboard's timeline (bounded). */
  private readonly timelines = new TaskTimelines()
  /** The task output of the jobs this node coordinates or coordinated (`meshwork logs`; bounded, src/jobs/task-logs.ts). */
  private readonly logs = new JobLogs()

  constructor (private readonly opts: JobCoordinatorOptions) {
    this.core = new CoordinatedJobs(
      { selfId: opts.selfId, workers: opts.workers },
      {
        scheduler: opts.scheduler,
        random: opts.random,
        ...(opts.tasksPerJobMax !== undefined ? { tasksPerJobMax: opts.tasksPerJobMax } : {}),
        ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}),
        ...(opts.replicateIntervalMs !== undefined ? { replicateIntervalMs: opts.replicateIntervalMs } : {}),
        ...(opts.commitRetryMs !== undefined ? { commitRetryMs: opts.commitRetryMs } : {}),
      },
      opts.replicas.holder,
    )
  }

  get activeJobs (): number { return this.core.size }
  /** Task attempts of a job this node coordinates or coordinated recently. */
  timeline (jobId: string): JobTimeline | undefined { return this.timelines.get(jobId, this.opts.wallMs()) }
  /** The job's task output after line `after`, if this node keeps it (it coordinates or coordinated the job). */
  logsOf (jobId: string, after: number): LogPage | undefined { return this.logs.read(jobId, after) }
  activeJobsOf (submitter: string): number { return this.core.activeJobsOf(submitter) }
  coordinates (jobId: string): boolean { return this.core.coordinates(jobId) }
  coordinated (): ReturnType<CoordinatedJobs['coordinated']> { return this.core.coordinated() }

  /** The node is stopping: no new jobs, and no failure committed for its own shutdown (see CoordinatedJobs.stop). */
  stop (): void { this.core.stop() }

  async onSubmit (spec: JobSpec, code: string, input: JobInput, term: number): Promise<void> {
    const replicaSet = spec.replicaSet ?? [this.opts.selfId, ...this.opts.backupsFor(spec.jobId)]
    const effects = this.core.submit(spec, term, replicaSet, this.opts.nowMs())
    this.apply(effects)
    const split = effects.find(e => e.type === 'split')
    if (split?.type !== 'split') return
    const { jobId, instance } = split
    let modulePath: string
    try {
      modulePath = await this.opts.code.put(spec.codeHash, code)
    } catch (err) {
      this.apply(this.core.splitFailed(jobId, instance, `job code rejected: ${(err as Error).message}`, this.opts.nowMs(), this.opts.wallMs()))
      return
    }
    this.prepareWorkers(spec)
    if (spec.source !== undefined && spec.source.records?.whole !== true) {
      // Stored input is cut into ranges here, without running job code: each task reads its own.
      // Parts the user asked for are kept however small; the default ones are at least 64 KiB.
      const splits = planSplits(spec.source, spec.parts ?? this.defaultParts(), spec.parts !== undefined ? 1 : undefined)
      this.apply(this.core.splitDone(jobId, instance, splits, this.opts.nowMs(), this.opts.wallMs()), code)
      return
    }
    if (input.type === 'source' && spec.source === undefined) {
      this.apply(this.core.splitFailed(jobId, instance, 'the job\'s input is stored files but its spec names none', this.opts.nowMs(), this.opts.wallMs()))
      return
    }
    let arg: unknown
    if (spec.source !== undefined) {
      // `records: 'whole'`: the module splits the file itself, as it did before inputs were stored.
      const [file] = spec.source.files
      try {
        arg = await this.opts.inputs.read({ file: file!, start: 0, end: file!.size }, { holders: spec.source.holders, records: { file: true } })
      } catch (err) {
        if (this.core.instanceOf(jobId) === instance) this.apply(this.core.splitFailed(jobId, instance, `split failed: ${(err as Error).message}`, this.opts.nowMs(), this.opts.wallMs()))
        return
      }
    } else {
      arg = input.type === 'bytes' ? Buffer.from(input.base64, 'base64') : input.type === 'json' ? input.value : undefined
    }
    const { scratchDir, workspaceDir } = this.opts.scratchDirFor(jobId, spec.codeHash)
    const outcome = await this.opts.pool.run({ id: `${jobId}:split:${term}`, op: 'split', modulePath, codeHash: spec.codeHash, arg, ctx: { jobId, parts: spec.parts ?? this.defaultParts(), peerId: this.opts.selfId, scratchDir }, workspaceDir })
    if (outcome.logs !== undefined) this.logs.add(jobId, { task: 'split', attempt: term, node: this.opts.selfId }, outcome.logs)
    const now = this.opts.nowMs()
    if (this.core.instanceOf(jobId) !== instance || this.core.spec(jobId) === undefined) return
    if (!outcome.ok) this.apply(this.core.splitFailed(jobId, instance, `split failed: ${describe(outcome)}`, now, this.opts.wallMs()))
    else this.apply(this.core.splitDone(jobId, instance, outcome.value, now, this.opts.wallMs()), code)
  }

  /**
   * Every live worker (this node included) starts the job's executors while the split runs,
   * instead of on its first task: a worker that lacks the code waits for that task as before.
   */
  private prepareWorkers (spec: JobSpec): void {
    const tools = spec.requires?.tools
    const guest = guestGrantsOf(spec)
    const message: RpcMessage = { t: 'job.prepare', jobId: spec.jobId, codeHash: spec.codeHash, ...(tools !== undefined && tools.length > 0 ? { tools } : {}), ...(guest !== undefined ? { guest } : {}) }
    for (const w of this.opts.workers()) {
      if (w.status === 'alive' && w.slotsTotal > 0 && w.accepting) this.opts.send(w.peerId, message)
    }
  }

  /** This node won the job's replica set after its coordinator died: carry on from the replica. */
  adopt (data: TakeoverData): void { this.apply(this.core.adopt(data, this.opts.nowMs(), this.opts.wallMs())) }

  /** A higher term exists for this job: stop coordinating it, publish nothing (onYielded follows if it was ours). */
  yieldJob (jobId: string, term: number): void { this.apply(this.core.yieldJob(jobId, term, this.opts.nowMs())) }

  onTaskResult (from: string, message: Msg<'task.ok'> | Msg<'task.failed'>): void {
    // Output is kept for jobs this node coordinates (or did: a late attempt's lines still count).
    if (message.logs !== undefined && (this.core.coordinates(message.jobId) || this.logs.has(message.jobId))) {
      this.logs.add(message.jobId, { task: message.taskIndex, attempt: attemptNumber(message.attemptId), node: from }, message.logs)
    }
    this.apply(this.core.taskResult(from, taskResultOf(message), this.opts.nowMs(), this.opts.wallMs()))
  }

  onCodeRequest (from: string, hash: string): void {
    for (const spec of this.core.specs()) {
      if (spec.codeHash !== hash) continue
      void this.opts.code.get(hash).then(code => { if (code !== undefined) this.opts.send(from, { t: 'code.put', hash, code }) })
      return
    }
  }

  onReplicaAck (from: string, m: Msg<'job.replicaAck'>): void { this.core.replicaAck(from, m) }
  onConfirmReply (from: string, m: Msg<'job.confirmReply'>): void { this.apply(this.core.confirmReply(from, m, this.opts.nowMs(), this.opts.wallMs())) }
  onCommitReply (from: string, m: Msg<'job.commitReply'>): void { this.apply(this.core.commitReply(from, m, this.opts.nowMs())) }

  cancel (jobId: string): boolean {
    if (!this.core.coordinates(jobId)) return false
    this.apply(this.core.cancel(jobId, this.opts.nowMs(), this.opts.wallMs()))
    return true
  }

  /** Drain: ask backup `to` to take the job over (see CoordinatedJobs.handOver). */
  handOver (jobId: string, to: string): boolean {
    const effects = this.core.handOver(jobId, to)
    if (effects === false) return false
    this.apply(effects)
    return true
  }

  onUnreachable (peerId: string): void {
    const workers = this.opts.workers()
    this.timelines.loseAllBut(new Set(workers.filter(w => w.peerId !== peerId && (w.status === 'alive' || w.status === 'suspect')).map(w => w.peerId)), this.opts.wallMs())
    // A node that announced its leave closes its streams as it stops: its attempts were handed back, not killed.
    const left = workers.some(w => w.peerId === peerId && w.status === 'left')
    this.apply(this.core.peerUnreachable(peerId, this.opts.nowMs(), this.opts.wallMs(), left))
  }

  /** Periodic: membership view, timeouts and backups, progress to submitters, commit retries. */
  tick (): void {
    const holds = this.opts.holdsRecord
    if (this.logs.size > 0) this.logs.retain(jobId => this.core.coordinates(jobId) || holds?.(jobId) === true)
    if (this.core.size === 0) return
    const workers = this.opts.workers()
    this.timelines.loseAllBut(new Set(workers.filter(w => w.status === 'alive' || w.status === 'suspect').map(w => w.peerId)), this.opts.wallMs())
    this.apply(this.core.tick(workers, this.opts.nowMs(), this.opts.wallMs()))
  }

  private defaultParts (): number {
    return Math.max(1, this.opts.workers().filter(w => w.status === 'alive').reduce((n, w) => n + w.slotsTotal, 0) * 4)
  }

  /**
   * Performs the core's effects. `code`: the job's code when the caller holds it (the first
   * replica leaves at once; a re-send reads it from the cache).
   */
  private apply (effects: CoordinatorEffect[], code?: string): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': this.opts.send(e.to, e.message); break
        case 'assign':
          this.opts.send(e.to, e.message)
          this.timelines.assign(e.message.jobId, e.message.attemptId, e.message.taskIndex, e.to, e.backup, this.opts.wallMs(), e.message.group === undefined ? undefined : e.message.group.length + 1)
          break
        case 'abort':
          this.timelines.end(e.jobId, e.attemptId, 'aborted', this.opts.wallMs())
          this.opts.send(e.to, { t: 'task.abort', attemptId: e.attemptId })
          break
        case 'attemptEnded': this.timelines.end(e.jobId, e.attemptId, e.ok ? 'ok' : 'failed', this.opts.wallMs(), e.error); break
        case 'started':
          this.timelines.begin(e.jobId, e.term, this.opts.selfId, e.tasks, e.done, this.opts.wallMs())
          this.logs.open(e.jobId)
          break
        case 'closed': this.timelines.close(e.jobId, this.opts.wallMs()); break
        case 'sendReplica': this.sendReplica(e.jobId, e.instance, code); break
        case 'reduce': void this.reduce(e.jobId, e.instance, e.term, e.spec, e.results); break
        case 'flushLater': this.scheduleProgressFlush(e.afterMs); break
        case 'record': this.opts.onRecord(e.record); break
        case 'yielded': this.opts.onYielded(e.jobId, e.term); break
        case 'log': this.opts.log[e.level](e.fields, e.msg); break
        case 'split': case 'taskDone': case 'coordinating': case 'committing': case 'published': break
      }
    }
  }

  private sendReplica (jobId: string, instance: number, code: string | undefined): void {
    const send = (code: string): void => {
      const out = this.core.replicaMessage(jobId, instance, this.opts.nowMs())
      if (out === undefined) return
      // One message for every backup: encoded once (the daemon reuses the bytes for the same object).
      const message: RpcMessage = { ...out.message, code }
      let bytes = 0
      for (const backup of out.to) bytes = this.opts.send(backup, message)
      this.core.replicaSize(jobId, instance, bytes)
    }
    if (code !== undefined) return send(code)
    const hash = this.core.spec(jobId)?.codeHash
    if (hash === undefined) return
    void this.opts.code.get(hash).then(code => { if (code !== undefined) send(code) })
  }

  private async reduce (jobId: string, instance: number, term: number, spec: JobSpec, results: unknown[]): Promise<void> {
    const { scratchDir, workspaceDir } = this.opts.scratchDirFor(jobId, spec.codeHash)
    // The results go to the executor as their JSON texts in a file of its workspace, parsed there once each.
    const dir = join(workspaceDir, '.inputs')
    const file = join(dir, `${jobId}-reduce-${term}`)
    let reduced
    try {
      await mkdir(dir, { recursive: true })
      await writeFile(file, encodeResultsFile(unfolded(results).map(jsonText)))
      reduced = await this.opts.pool.run({ id: `${jobId}:reduce:${term}`, op: 'reduce', modulePath: this.opts.code.pathFor(spec.codeHash), codeHash: spec.codeHash, arg: null, argFile: { path: file, encoding: 'results' }, ctx: { jobId, parts: results.length, peerId: this.opts.selfId, scratchDir }, workspaceDir })
    } catch (err) {
      reduced = { ok: false as const, kind: 'bad-input' as const, error: `cannot hand the results to the reduce: ${(err as Error).message}`, durationMs: 0 }
    } finally {
      await rm(file, { force: true })
    }
    // Before the job's outcome: a client following the job sees its last lines once it is final.
    if (reduced.logs !== undefined) this.logs.add(jobId, { task: 'reduce', attempt: term, node: this.opts.selfId }, reduced.logs)
    const outcome = reduced.ok ? { ok: true as const, value: reduced.value } : { ok: false as const, error: describe(reduced) }
    this.apply(this.core.reduced(jobId, instance, outcome, this.opts.nowMs(), this.opts.wallMs()))
  }

  /**
   * Completed results leave for the backups at the end of this event-loop turn, or when the
   * core's replicate interval is up: a slow job's results at once, a fast job's in batches.
   */
  private scheduleProgressFlush (afterMs: number): void {
    if (this.progressFlushScheduled) return
    this.progressFlushScheduled = true
    const flush = (): void => {
      this.progressFlushScheduled = false
      this.apply(this.core.flushProgress(this.opts.nowMs()))
    }
    if (afterMs <= 0) setImmediate(flush)
    else setTimeout(flush, afterMs).unref()
  }
}

function describe (outcome: TaskOutcome): string {
  return outcome.ok ? 'ok' : `${outcome.kind}: ${outcome.error}`
}
