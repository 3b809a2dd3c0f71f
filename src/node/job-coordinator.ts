import type { ExecutorPool, TaskOutcome } from '../jobs/executor-pool.js'
import { PRIORITY_WEIGHT, type JobInput, type JobRecord, type JobSpec } from '../jobs/job-spec.js'
import { Scheduler, type SchedulerConfig, type SchedulerEffect, type WorkerView } from '../jobs/scheduler.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { Random } from '../util/prng.js'
import type { CodeCache } from './code-cache.js'
import type { Logger } from './logger.js'

// The coordinator side of every node: for the jobs elected to this node it splits the input
// (in an executor), feeds the scheduling core, ships tasks and code to workers, reduces the
// results (in an executor) and keeps the submitter's node informed.

interface CoordinatedJob {
  spec: JobSpec
  record: JobRecord
  chunks: unknown[]
  /** attemptId → worker and send time; a result is accepted only from the worker that got the task. */
  attempts: Map<string, { peerId: string, sentMs: number }>
  roundTrips: RoundTrips
  lastSentMs: number
  dirty: boolean
}

export interface JobCoordinatorOptions {
  selfId: string
  pool: ExecutorPool
  code: CodeCache
  scheduler: Partial<SchedulerConfig>
  random: Random
  log: Logger
  send: (peerId: string, message: RpcMessage) => void
  workers: () => WorkerView[]
  /** Every record change (the local registry keeps them). */
  onRecord: (record: JobRecord) => void
  nowMs: () => number
  wallMs: () => number
  progressIntervalMs?: number
}

export class JobCoordinator {
  private readonly jobs = new Map<string, CoordinatedJob>()
  private readonly scheduler: Scheduler

  constructor (private readonly opts: JobCoordinatorOptions) {
    this.scheduler = new Scheduler(opts.scheduler, opts.random)
  }

  get activeJobs (): number { return this.jobs.size }

  async onSubmit (spec: JobSpec, code: string, input: JobInput): Promise<void> {
    if (this.jobs.has(spec.jobId)) return
    const job: CoordinatedJob = {
      spec,
      record: {
        jobId: spec.jobId, kind: spec.kind, moduleName: spec.moduleName, state: 'splitting', coordinator: this.opts.selfId, term: 1,
        submitter: spec.submitter, priority: spec.priority, tasks: 0, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: spec.submittedAtMs,
      },
      chunks: [],
      attempts: new Map(),
      roundTrips: new RoundTrips(),
      lastSentMs: 0,
      dirty: true,
    }
    this.jobs.set(spec.jobId, job)
    this.publish(job, true)
    let modulePath: string
    try {
      modulePath = await this.opts.code.put(spec.codeHash, code)
    } catch (err) {
      return this.finish(job, { state: 'failed', error: `job code rejected: ${(err as Error).message}` })
    }
    const arg = input.type === 'json' ? input.value : Buffer.from(input.base64, 'base64')
    const split = await this.opts.pool.run({ id: `${spec.jobId}:split`, op: 'split', modulePath, codeHash: spec.codeHash, arg, ctx: { jobId: spec.jobId, parts: spec.parts ?? this.defaultParts(), peerId: this.opts.selfId } })
    if (job.record.state !== 'splitting') return // cancelled meanwhile
    if (!split.ok) return this.finish(job, { state: 'failed', error: `split failed: ${describe(split)}` })
    if (!Array.isArray(split.value)) return this.finish(job, { state: 'failed', error: 'split did not return a list of chunks' })
    job.chunks = split.value
    job.record = { ...job.record, state: 'running', tasks: job.chunks.length }
    if (job.chunks.length === 0) return await this.reduce(job, [], {})
    this.apply(this.scheduler.step({ type: 'workers', workers: this.opts.workers() }, this.opts.nowMs()))
    this.apply(this.scheduler.step({ type: 'addJob', jobId: spec.jobId, taskCount: job.chunks.length, weight: PRIORITY_WEIGHT[spec.priority] }, this.opts.nowMs()))
    this.publish(job, true)
  }

  onTaskResult (from: string, message: Extract<RpcMessage, { t: 'task.ok' | 'task.failed' }>): void {
    const job = this.jobs.get(message.jobId)
    const attempt = job?.attempts.get(message.attemptId)
    if (job === undefined || attempt?.peerId !== from) return
    job.attempts.delete(message.attemptId)
    const now = this.opts.nowMs()
    if (message.t === 'task.ok') {
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

  onUnreachable (peerId: string): void {
    this.apply(this.scheduler.step({ type: 'peerUnreachable', peerId }, this.opts.nowMs()))
  }

  /** Periodic: membership view, timeouts and backups, progress to submitters. */
  tick (): void {
    if (this.jobs.size === 0) return
    const now = this.opts.nowMs()
    this.apply(this.scheduler.step({ type: 'workers', workers: this.opts.workers() }, now))
    this.apply(this.scheduler.step({ type: 'tick' }, now))
    for (const job of this.jobs.values()) {
      if (job.dirty && now - job.lastSentMs >= (this.opts.progressIntervalMs ?? 200)) this.publish(job, false)
    }
  }

  private defaultParts (): number {
    return Math.max(1, this.opts.workers().filter(w => w.status === 'alive').reduce((n, w) => n + w.slotsTotal, 0) * 4)
  }

  private apply (effects: SchedulerEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'assign': {
          const job = this.jobs.get(effect.jobId)
          if (job === undefined) break
          job.attempts.set(effect.attemptId, { peerId: effect.peerId, sentMs: this.opts.nowMs() })
          this.opts.send(effect.peerId, {
            t: 'task.assign', jobId: effect.jobId, taskIndex: effect.taskIndex, attemptId: effect.attemptId, codeHash: job.spec.codeHash,
            kind: job.spec.kind, parts: job.chunks.length, chunk: job.chunks[effect.taskIndex],
          })
          job.dirty = true
          break
        }
        case 'abort': {
          this.jobs.get(effect.jobId)?.attempts.delete(effect.attemptId)
          this.opts.send(effect.peerId, { t: 'task.abort', attemptId: effect.attemptId })
          break
        }
        case 'jobDone': {
          const job = this.jobs.get(effect.jobId)
          if (job !== undefined) void this.reduce(job, effect.results, effect.tasksByPeer)
          break
        }
        case 'jobFailed': {
          const job = this.jobs.get(effect.jobId)
          if (job !== undefined) this.finish(job, { state: 'failed', error: effect.error })
          break
        }
        case 'jobCancelled': {
          const job = this.jobs.get(effect.jobId)
          if (job !== undefined) this.finish(job, { state: 'cancelled' })
          break
        }
      }
    }
  }

  private async reduce (job: CoordinatedJob, results: unknown[], tasksByPeer: Record<string, number>): Promise<void> {
    const spec = job.spec
    job.record = { ...job.record, state: 'reducing', done: job.chunks.length, inFlight: 0, tasksByPeer }
    job.chunks = []
    if (spec.kind === 'action') {
      return this.finish(job, { state: 'done', result: { kind: 'action', tasks: results.length, succeeded: results.length, tasksByPeer } })
    }
    this.publish(job, true)
    const reduced = await this.opts.pool.run({ id: `${spec.jobId}:reduce`, op: 'reduce', modulePath: this.opts.code.pathFor(spec.codeHash), codeHash: spec.codeHash, arg: results, ctx: { jobId: spec.jobId, parts: results.length, peerId: this.opts.selfId } })
    if (!reduced.ok) return this.finish(job, { state: 'failed', error: `reduce failed: ${describe(reduced)}` })
    this.finish(job, { state: 'done', result: reduced.value })
  }

  private finish (job: CoordinatedJob, outcome: Pick<JobRecord, 'state'> & Partial<Pick<JobRecord, 'result' | 'error'>>): void {
    if (job.record.state === 'done' || job.record.state === 'failed' || job.record.state === 'cancelled') return
    const summary = this.scheduler.job(job.spec.jobId)
    const finishedAtMs = this.opts.wallMs()
    job.record = {
      ...job.record,
      ...outcome,
      done: outcome.state === 'done' ? job.record.tasks : summary?.done ?? job.record.done,
      inFlight: 0,
      failures: summary?.failures ?? job.record.failures,
      tasksByPeer: summary?.byPeer ?? job.record.tasksByPeer,
      finishedAtMs,
      wallMs: finishedAtMs - job.spec.submittedAtMs,
      ...job.roundTrips.summary(),
    }
    if (outcome.state !== 'done') this.opts.log.warn({ jobId: job.spec.jobId, state: outcome.state, error: outcome.error }, 'job ended')
    this.publish(job, true)
    job.chunks = []
    job.attempts.clear()
    this.jobs.delete(job.spec.jobId)
  }

  private publish (job: CoordinatedJob, force: boolean): void {
    const s = this.scheduler.job(job.spec.jobId)
    if (s !== undefined && job.record.state === 'running') {
      job.record = { ...job.record, done: s.done, inFlight: s.inFlight, failures: s.failures, tasksByPeer: s.byPeer }
    }
    void force
    job.lastSentMs = this.opts.nowMs()
    job.dirty = false
    this.opts.onRecord(job.record)
    if (job.spec.submitter !== this.opts.selfId) this.opts.send(job.spec.submitter, { t: 'job.update', record: job.record })
  }
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
