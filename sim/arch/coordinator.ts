import { VoteTally } from '../../src/election/replica-set.js'
import { backupsFor, coordinatorFor } from '../../src/election/strategy.js'
import { Scheduler, type SchedulerEffect } from '../../src/jobs/scheduler.js'
import type { JobPlan } from '../workload/workloads.js'
import type { SimMessage } from '../net/messages.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'
import { answerCommitLocal, replicasOf } from './replicas.js'

// The coordinator side of a node, used the way src/node/job-coordinator.ts uses the cores:
// the real Scheduler places tasks from the node's membership view, every accepted result is
// replicated to the job's backups (p2p), and the result is published only after a majority
// of the replica set accepts the commit (VoteTally). Split and reduce take modelled time.

interface CoordinatedJob {
  plan: JobPlan
  term: number
  replicaSet: number[]
  state: 'splitting' | 'running' | 'reducing' | 'committing'
  /** attemptId -> the worker that got it */
  attempts: Map<string, number>
  progressOut: Array<[number, number]>
  flushScheduled: boolean
  commit: { tally: VoteTally, outcome: Outcome, sentMs: number } | undefined
}

type Outcome = { ok: true, results: unknown[] } | { ok: false, error: string }
type TaskResult = Extract<SimMessage, { t: 'task.ok' | 'task.failed' }>

export class CoordinatorBinding {
  readonly scheduler: Scheduler
  readonly jobs = new Map<string, CoordinatedJob>()
  private ticking = false

  constructor (private readonly w: World, private readonly node: SimNode) {
    this.scheduler = new Scheduler({ taskTimeoutMs: w.cfg.protocol.taskTimeoutMs, emitTaskDone: true, workersMax: 1_000_000 }, w.schedulerRandom(node))
  }

  get self (): number { return this.node.index }

  /** job.submit from a submitter (or a re-send): elected here, split, replicate, schedule. */
  onSubmit (from: number, jobId: string, term: number): void {
    const w = this.w
    const plan = w.jobsById.get(jobId)
    if (plan === undefined) return
    w.send(this.self, from, { t: 'job.ack', jobId, term })
    const existing = this.jobs.get(jobId)
    if (existing !== undefined && existing.term >= term) return
    if (replicasOf(w, this.node)?.get(jobId)?.final === true) return
    w.observe(this.self, [])
    const members = w.members(this.node)
    // The daemon accepts what it is sent; here the master of a fixed election also checks that
    // the strategy names it (it always does while it is alive).
    if (w.arch.election === 'fixed' && coordinatorFor(w.strategy, jobId, members) !== this.node.id) return
    const backups = w.arch.backups > 0
      ? backupsFor(w.strategy, jobId, members, w.arch.backups + 1).filter(p => p !== this.node.id).slice(0, w.arch.backups).map(p => w.indexOf(p))
      : []
    const job = this.newJob(plan, term, [this.self, ...backups])
    w.ledger.coordinated(jobId, this.self, term, job.replicaSet, w.sim.nowMs)
    const epoch = this.node.epoch
    w.sim.after(w.cfg.protocol.splitBaseMs + w.cfg.protocol.splitPerTaskMs * plan.taskCount, () => {
      if (this.node.epoch !== epoch || this.jobs.get(jobId) !== job || job.state !== 'splitting') return
      w.replicaBinding(this.node).track(jobId, job.replicaSet, this.self, term)
      for (const backup of job.replicaSet.slice(1)) {
        w.observe(backup, job.replicaSet, false)
        w.send(this.self, backup, { t: 'job.replica', jobId, term, replicaSet: job.replicaSet }, plan.taskCount * plan.chunkBytes)
      }
      this.start(job, new Map())
    })
  }

  /** This node won the job's replica set after its coordinator died: carry on from the replica. */
  adopt (plan: JobPlan, term: number, replicaSet: readonly number[], done: Map<number, unknown>): void {
    const previous = this.jobs.get(plan.jobId)
    if (previous !== undefined) this.drop(previous)
    const job = this.newJob(plan, term, [...replicaSet])
    this.w.ledger.coordinated(plan.jobId, this.self, term, job.replicaSet, this.w.sim.nowMs)
    this.start(job, done)
  }

  /** A higher term exists: stop coordinating, publish nothing. */
  yieldJob (jobId: string, term: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.term >= term) return
    this.drop(job)
  }

  onTaskResult (from: number, m: TaskResult): void {
    const job = this.jobs.get(m.jobId)
    if (job === undefined || job.attempts.get(m.attemptId) !== from) return
    job.attempts.delete(m.attemptId)
    const now = this.w.sim.nowMs
    if (m.t === 'task.ok') this.apply(this.scheduler.step({ type: 'taskOk', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, result: m.value }, now))
    else if (m.returned === true) this.apply(this.scheduler.step({ type: 'taskReturned', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId }, now))
    else this.apply(this.scheduler.step({ type: 'taskFailed', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, error: m.error, retryable: m.retryable }, now))
  }

  onCommitReply (from: number, m: Extract<SimMessage, { t: 'job.commitReply' }>): void {
    const job = this.jobs.get(m.jobId)
    const commit = job?.commit
    if (job === undefined || commit === undefined || commit.tally.term !== m.term) return
    const outcome = commit.tally.add(this.w.nodes[from]?.id ?? '', m.ok, m.promisedTerm)
    if (outcome === 'won') this.published(job, commit.outcome)
    else if (outcome === 'lost') this.w.replicaBinding(this.node).yieldTo(job.plan.jobId, m.promisedTerm)
  }

  onUnreachable (peer: number): void {
    if (this.jobs.size === 0) return
    this.apply(this.scheduler.step({ type: 'peerUnreachable', peerId: this.w.nodes[peer]?.id ?? '' }, this.w.sim.nowMs))
  }

  /** Periodic (tickMs): membership view, timeouts and backups, commit retries. */
  tick (): void {
    if (this.jobs.size === 0) {
      this.ticking = false
      return
    }
    const now = this.w.sim.nowMs
    this.apply(this.scheduler.step({ type: 'workers', workers: this.w.workerViews(this.node) }, now))
    this.apply(this.scheduler.step({ type: 'tick' }, now))
    for (const job of this.jobs.values()) {
      if (job.commit !== undefined && now - job.commit.sentMs >= this.w.cfg.protocol.commitRetryMs) this.sendCommit(job)
    }
  }

  get isTicking (): boolean { return this.ticking }

  private newJob (plan: JobPlan, term: number, replicaSet: number[]): CoordinatedJob {
    const job: CoordinatedJob = { plan, term, replicaSet, state: 'splitting', attempts: new Map(), progressOut: [], flushScheduled: false, commit: undefined }
    this.jobs.set(plan.jobId, job)
    this.w.observe(this.self, replicaSet)
    this.ticking = true
    return job
  }

  private start (job: CoordinatedJob, done: Map<number, unknown>): void {
    job.state = 'running'
    const now = this.w.sim.nowMs
    this.apply(this.scheduler.step({ type: 'workers', workers: this.w.workerViews(this.node) }, now))
    this.apply(this.scheduler.step({ type: 'addJob', jobId: job.plan.jobId, taskCount: job.plan.taskCount, weight: job.plan.weight, done, term: job.term }, now))
    // The record says `running`: the submitter stops watching for a dead coordinator.
    this.w.send(this.self, job.plan.submitter, { t: 'job.update', jobId: job.plan.jobId, term: job.term, final: false })
  }

  private apply (effects: SchedulerEffect[]): void {
    const w = this.w
    for (const effect of effects) {
      const job = this.jobs.get(effect.jobId)
      if (job === undefined) continue
      switch (effect.type) {
        case 'assign': {
          const worker = w.indexOf(effect.peerId)
          job.attempts.set(effect.attemptId, worker)
          w.metrics.assignments++
          if (!w.send(this.self, worker, { t: 'task.assign', jobId: effect.jobId, taskIndex: effect.taskIndex, attemptId: effect.attemptId, term: job.term })) w.unreachableLater(this.node, worker)
          break
        }
        case 'abort':
          job.attempts.delete(effect.attemptId)
          w.send(this.self, w.indexOf(effect.peerId), { t: 'task.abort', attemptId: effect.attemptId })
          break
        case 'taskDone':
          w.metrics.tasksAccepted++
          if (job.replicaSet.length > 1) {
            job.progressOut.push([effect.taskIndex, effect.result as number])
            this.scheduleFlush(job)
          }
          break
        case 'jobDone': {
          this.flush(job)
          job.state = 'reducing'
          const epoch = this.node.epoch
          const results = effect.results
          w.sim.after(w.cfg.protocol.reduceBaseMs + w.cfg.protocol.reducePerTaskMs * job.plan.taskCount, () => {
            if (this.node.epoch === epoch && this.jobs.get(job.plan.jobId) === job) this.finish(job, { ok: true, results })
          })
          break
        }
        case 'jobFailed':
          this.finish(job, { ok: false, error: effect.error })
          break
        case 'jobCancelled':
          this.finish(job, { ok: false, error: 'cancelled' })
          break
      }
    }
  }

  /** Completed results leave for the backups in batches (the daemon batches per event-loop turn). */
  private scheduleFlush (job: CoordinatedJob): void {
    if (job.flushScheduled) return
    job.flushScheduled = true
    const epoch = this.node.epoch
    this.w.sim.after(this.w.cfg.protocol.replicationBatchMs, () => {
      job.flushScheduled = false
      if (this.node.epoch === epoch && this.jobs.get(job.plan.jobId) === job) this.flush(job)
    })
  }

  private flush (job: CoordinatedJob): void {
    if (job.progressOut.length === 0) return
    const done = job.progressOut
    job.progressOut = []
    for (const backup of job.replicaSet) {
      if (backup !== this.self) this.w.send(this.self, backup, { t: 'job.progress', jobId: job.plan.jobId, term: job.term, done })
    }
  }

  /** Have the replica set accept the outcome before anyone is told (exactly one result per job). */
  private finish (job: CoordinatedJob, outcome: Outcome): void {
    if (job.commit !== undefined) return
    job.state = 'committing'
    job.attempts.clear()
    const replicas = this.w.replicaBinding(this.node)
    replicas.track(job.plan.jobId, job.replicaSet, this.self, job.term)
    if (!answerCommitLocal(replicas, job.plan.jobId, job.term)) {
      replicas.yieldTo(job.plan.jobId, job.term + 1)
      return
    }
    job.commit = { tally: new VoteTally(job.replicaSet.map(i => this.w.nodes[i]?.id ?? ''), job.term, this.node.id), outcome, sentMs: 0 }
    if (this.w.injectDoublePublish(job.plan.jobId)) this.w.ledger.published(job.plan.jobId, this.self, job.term, this.w.sim.nowMs, outcome)
    if (job.commit.tally.outcome() === 'won') this.published(job, outcome)
    else this.sendCommit(job)
  }

  private sendCommit (job: CoordinatedJob): void {
    if (job.commit === undefined) return
    job.commit.sentMs = this.w.sim.nowMs
    for (const member of job.replicaSet) {
      if (member !== this.self) this.w.send(this.self, member, { t: 'job.commit', jobId: job.plan.jobId, term: job.term })
    }
  }

  private published (job: CoordinatedJob, outcome: Outcome): void {
    const w = this.w
    w.ledger.published(job.plan.jobId, this.self, job.term, w.sim.nowMs, outcome)
    w.jobFinished(job.plan.jobId)
    const to = new Set([job.plan.submitter, ...job.replicaSet])
    to.delete(this.self)
    for (const peer of to) w.send(this.self, peer, { t: 'job.update', jobId: job.plan.jobId, term: job.term, final: true })
    this.jobs.delete(job.plan.jobId)
  }

  private drop (job: CoordinatedJob): void {
    const effects = this.scheduler.step({ type: 'cancelJob', jobId: job.plan.jobId }, this.w.sim.nowMs)
    this.apply(effects.filter(e => e.type === 'abort'))
    this.jobs.delete(job.plan.jobId)
  }
}
