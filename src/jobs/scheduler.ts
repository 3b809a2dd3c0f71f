import type { Random } from '../util/prng.js'
import type { TaskFailure } from './job-spec.js'
import { isFailureKind, type FailureKind } from './failure-kinds.js'
import { shortPeer } from '../util/short-peer.js'
import { FairShareQueue } from './fair-share.js'
import { type Attempt, forEachTask, LiveJob } from './job-state.js'
import { pickLocal, pickWorker, sanitizeView, windowFor, type WorkerRecord } from './placement.js'
import { hasRequirements, unsatisfiable, type NodeCaps } from './requires.js'
import { CRASH_KINDS, schedulerConfig, type SchedulerConfig } from './scheduler-config.js'
import type { JobStatus, JobSummary, SchedulerEffect, SchedulerEvent, SchedulerStats, WorkerSummary } from './scheduler-types.js'
import { TASK_DONE, TASK_RUNNING } from './task-queue.js'

export type { SchedulerConfig } from './scheduler-config.js'
export { CRASH_KINDS, DEFAULT_SCHEDULER_CONFIG, schedulerConfig } from './scheduler-config.js'
export type * from './scheduler-types.js'

// The coordinator's scheduling core for many concurrent jobs. Sans-IO: events in with `now`,
// effects out; randomness only from the injected `Random` (placement ties).
//
// Flow: a task waits in its job's queue until some worker has room in its window; the slot
// goes to the job furthest below its fair share, the task to the worker with the most free
// capacity. Results, failures, timeouts and lost workers free the slot and pump again.
// Per event the work is O(workers + log jobs) per assignment, never O(tasks).

const WEIGHT_MIN = 1 / 1024
const WEIGHT_MAX = 1024

export class Scheduler {
  readonly config: SchedulerConfig
  private readonly random: Random
  /** Monotonic: a `now` earlier than one already seen (or below 0, or not finite) is taken as the latest seen. */
  private clockMs = 0
  private nextSeq = 0
  private readonly active = new Map<string, LiveJob>()
  /** Summaries of finished jobs, oldest first (bounded by finishedJobsMax). */
  private readonly finished = new Map<string, JobSummary>()
  private readonly fairShare = new FairShareQueue<LiveJob>()
  /** Running jobs with `requires`: re-checked when the membership view changes. */
  private readonly constrained = new Set<LiveJob>()
  private workerMap = new Map<string, WorkerRecord>()
  private workerList: WorkerRecord[] = []
  /** Slots of the workers that take work, as of the last view: a combining job's groups are cut for them all. */
  private slotsInView = 0
  /** Every running attempt, in start order, so timeouts look only at the oldest. */
  private readonly attempts = new Map<string, Attempt>()
  /** Per peer, solo attempts lost to a broken stream: crashes only if the peer is declared dead soon after. */
  private readonly brokenOn = new Map<string, BrokenAttempt[]>()
  /**
   * Free window slots on alive, accepting workers (unreachable cooldowns ignored, so an upper
   * bound). When it is 0 a pump returns at once instead of scanning every worker: in a busy
   * mesh that halves the work per completed task.
   */
  private freeSlots = 0
  /** The same against the deeper windows of short jobs (SchedulerConfig.shortWindowPerSlot): at least freeSlots. */
  private freeShortSlots = 0
  private readonly counters = { droppedEvents: 0, duplicatesDiscarded: 0, staleFailures: 0, requeuedLost: 0, returned: 0, backupsLaunched: 0, timeouts: 0 }

  /** `localPeerId`: the node this coordinator runs on, where jobs of tiny tasks are kept (SchedulerConfig.localRunBelowMsPerSlot). */
  constructor (config: Partial<SchedulerConfig>, random: Random, private readonly localPeerId?: string) {
    this.config = schedulerConfig(config)
    this.random = random
  }

  /**
   * Applies one event at time `now` (ms, any monotonic clock starting at or above 0) and
   * returns the effects to perform, in order. Never throws: malformed or unknown events are
   * counted in stats() and ignored.
   */
  step (event: SchedulerEvent, now: number): SchedulerEffect[] {
    const out: SchedulerEffect[] = []
    if (typeof now === 'number' && Number.isFinite(now) && now > this.clockMs) this.clockMs = now
    const t = this.clockMs
    if (typeof event !== 'object' || event === null) {
      this.counters.droppedEvents++
      return out
    }
    switch (event.type) {
      case 'addJob': this.onAddJob(event, t, out); break
      case 'workers': this.onWorkers(event.workers, t, out); break
      case 'taskOk': this.onTaskOk(event, t, out); break
      case 'taskFailed': this.onTaskFailed(event, t, out); break
      case 'taskReturned': this.onTaskReturned(event, t, out); break
      case 'peerUnreachable': this.onPeerUnreachable(event.peerId, event.left === true, t, out); break
      case 'cancelJob': this.onCancelJob(event.jobId, t, out); break
      case 'tick': this.onTick(t, out); break
      default: this.counters.droppedEvents++
    }
    return out
  }

  // ---- read-only inspection ----

  /** Running jobs (arrival order), then retained finished ones (oldest first). */
  jobs (): JobSummary[] {
    const list: JobSummary[] = []
    for (const job of this.active.values()) list.push(this.summarize(job))
    for (const s of this.finished.values()) list.push(copySummary(s))
    return list
  }

  job (jobId: string): JobSummary | undefined {
    const live = this.active.get(jobId)
    if (live !== undefined) return this.summarize(live)
    const s = this.finished.get(jobId)
    return s === undefined ? undefined : copySummary(s)
  }

  workers (): WorkerSummary[] {
    return this.workerList.map(w => ({
      peerId: w.peerId,
      status: w.status,
      accepting: w.accepting,
      window: w.window,
      shortWindow: w.shortWindow,
      inFlight: w.attempts.size,
      unreachableUntilMs: w.unreachableUntilMs,
    }))
  }

  stats (): SchedulerStats {
    let queued = 0
    for (const job of this.active.values()) queued += job.queue.size
    return { activeJobs: this.active.size, retainedJobs: this.finished.size, inFlight: this.attempts.size, queued, freeSlots: this.freeSlots, freeShortSlots: this.freeShortSlots, ...this.counters }
  }

  // ---- events ----

  private onAddJob (e: Extract<SchedulerEvent, { type: 'addJob' }>, t: number, out: SchedulerEffect[]): void {
    const { jobId, taskCount } = e
    if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > this.config.jobIdLengthMax || this.active.has(jobId)) {
      this.counters.droppedEvents++
      return
    }
    if (typeof taskCount !== 'number' || !Number.isInteger(taskCount) || taskCount < 0) {
      return this.refuse(jobId, `Invalid task count ${typeof taskCount === 'number' ? taskCount : typeof taskCount}: expected an integer >= 0`, out)
    }
    if (taskCount > this.config.maxTasksPerJob) {
      return this.refuse(jobId, `Job has ${taskCount} tasks, more than the limit of ${this.config.maxTasksPerJob} (maxTasksPerJob)`, out)
    }
    if (this.active.size >= this.config.jobsMax) {
      return this.refuse(jobId, `Too many running jobs: the limit is ${this.config.jobsMax} (jobsMax)`, out)
    }
    // Re-adding a finished job (e.g. failover back to this node) starts it afresh; the
    // caller passes a new term so its attempt ids differ from the first run's.
    const requires = hasRequirements(e.requires) ? e.requires : undefined
    const why = requires === undefined ? undefined : unsatisfiable(requires, this.liveCaps())
    if (why !== undefined) return this.refuse(jobId, why, out)
    this.finished.delete(jobId)
    const done = e.done instanceof Map ? e.done : undefined
    const term = typeof e.term === 'number' && Number.isSafeInteger(e.term) && e.term > 0 ? e.term : 0
    const job = new LiveJob(jobId, this.nextSeq++, sanitizeWeight(e.weight), taskCount, term, done, this.config.durationSamplesMax)
    job.requires = requires
    job.combines = e.combine === true
    const retries = e.retry?.retries
    job.maxAttempts = typeof retries === 'number' && Number.isInteger(retries) && retries >= 0 ? Math.min(retries + 1, this.config.maxAttempts + 8) : this.config.maxAttempts
    job.retryOn = Array.isArray(e.retry?.on) ? new Set(e.retry.on) : undefined
    if (job.doneCount === job.total) return this.complete(job, out)
    this.active.set(jobId, job)
    if (requires !== undefined) this.constrained.add(job)
    this.touch(job)
    this.pump(t, out)
  }

  private onWorkers (views: unknown, t: number, out: SchedulerEffect[]): void {
    if (!Array.isArray(views)) {
      this.counters.droppedEvents++
      return
    }
    const latest = new Map<string, NonNullable<ReturnType<typeof sanitizeView>>>()
    const count = Math.min(views.length, this.config.workersMax)
    for (let i = 0; i < count; i++) {
      const v = sanitizeView(views[i], this.config.slotsPerWorkerMax)
      if (v !== undefined) latest.set(v.peerId, v) // a peer listed twice: the last entry wins
    }
    const nextMap = new Map<string, WorkerRecord>()
    for (const v of latest.values()) {
      if (v.status === 'dead' || v.status === 'left') continue
      const rec: WorkerRecord = this.workerMap.get(v.peerId) ?? { peerId: v.peerId, status: v.status, accepting: false, slotsTotal: 0, slotsFree: 0, cpuLoad: 1, caps: undefined, window: 0, shortWindow: 0, unreachableUntilMs: -Infinity, attempts: new Map(), keptLocal: 0 }
      rec.status = v.status
      rec.accepting = v.accepting
      rec.slotsTotal = v.slotsTotal
      rec.slotsFree = v.slotsFree
      rec.cpuLoad = v.cpuLoad
      rec.caps = v.caps
      rec.window = windowFor(v.slotsTotal, this.config.windowPerSlot)
      rec.shortWindow = Math.max(rec.window, windowFor(v.slotsTotal, this.config.shortWindowPerSlot))
      nextMap.set(v.peerId, rec)
    }
    const gone = this.workerList.filter(w => !nextMap.has(w.peerId))
    this.workerMap = nextMap
    this.workerList = [...nextMap.values()]
    for (const w of gone) {
      const status = latest.get(w.peerId)?.status
      // Only a death counts toward the poison rule: a node that left (a drain, a stop) handed its tasks back.
      const reason = status === undefined ? `worker ${w.peerId} left the membership view` : `worker ${w.peerId} is ${status}`
      // A boxed task cannot kill its node: only the death of an unboxed one may be the task's doing.
      const blame = status === 'dead' && w.caps?.unboxed === true
      this.loseWorker(w, reason, blame, out)
      if (blame) this.countBrokenAsCrashed(w.peerId, reason, t, out)
      else this.brokenOn.delete(w.peerId)
    }
    this.forgetOldBreaks(t)
    this.freeSlots = 0
    this.freeShortSlots = 0
    this.slotsInView = 0
    for (const w of this.workerList) {
      if (!takesWork(w)) continue
      this.slotsInView += w.slotsTotal
      this.freeSlots += Math.max(0, w.window - w.attempts.size)
      this.freeShortSlots += Math.max(0, w.shortWindow - w.attempts.size)
    }
    // A constrained job whose last capable node is gone fails now rather than waiting forever.
    if (this.constrained.size > 0) {
      const caps = this.liveCaps()
      for (const job of [...this.constrained]) {
        const why = unsatisfiable(job.requires, caps)
        if (why === undefined || this.active.get(job.jobId) !== job) continue
        this.abortAll(job, out)
        out.push({ type: 'jobFailed', jobId: job.jobId, error: why, taskIndex: null })
        this.retire(job, 'failed', why)
      }
    }
    this.pump(t, out)
  }

  /** What the workers in view offer (alive or suspect; draining and yielding ones included: they come back). */
  private liveCaps (): NodeCaps[] {
    const caps: NodeCaps[] = []
    for (const w of this.workerList) if (w.slotsTotal > 0) caps.push(w.caps ?? { tools: [], labels: {}, memTotal: 0, cpuCores: 0 })
    return caps
  }

  private onTaskOk (e: Extract<SchedulerEvent, { type: 'taskOk' }>, t: number, out: SchedulerEffect[]): void {
    const job = this.liveJobFor(e.jobId)
    if (job === undefined) return
    const attempt = typeof e.attemptId === 'string' ? job.running.get(e.attemptId) : undefined
    if (attempt === undefined) {
      // Another attempt already won (this one was aborted), or the attempt timed out or was lost.
      job.duplicatesDiscarded++
      this.counters.duplicatesDiscarded++
      return
    }
    if (attempt.taskIndex !== e.taskIndex) {
      this.counters.droppedEvents++
      return
    }
    if (!groupMatches(attempt, e.group)) {
      this.counters.droppedEvents++
      return
    }
    this.release(attempt)
    // A group's round trip and run time are shared by its tasks: each is counted as its share.
    const tasks = 1 + (attempt.group?.length ?? 0)
    job.durations.add((t - attempt.startedAtMs) / tasks)
    if (typeof e.runMs === 'number') job.runDurations.add(e.runMs / tasks)
    const peerId = attempt.worker.peerId
    const before = job.doneCount
    this.accept(job, attempt.taskIndex, e.result, peerId, out)
    if (e.group !== undefined) for (const [i, result] of e.group) this.accept(job, i, result, peerId, out)
    // The median selects among its samples: refresh the pace every 32 results once there are that many.
    if (job.durations.size < 32 || (before >> 5) !== (job.doneCount >> 5)) this.setPace(job, job.durations.median() ?? 0)
    if (job.doneCount === job.total) this.complete(job, out)
    this.pump(t, out)
  }

  /** A task's first result: kept, and any other attempt of the task (a backup, the straggling original) aborted. */
  private accept (job: LiveJob, i: number, result: unknown, peerId: string, out: SchedulerEffect[]): void {
    if (job.taskState[i] === TASK_DONE) {
      job.duplicatesDiscarded++
      this.counters.duplicatesDiscarded++
      return
    }
    job.byPeer.set(peerId, (job.byPeer.get(peerId) ?? 0) + 1)
    job.results[i] = result
    job.taskState[i] = TASK_DONE
    job.doneCount++
    job.avoid.delete(i)
    if (this.config.emitTaskDone) out.push({ type: 'taskDone', jobId: job.jobId, taskIndex: i, peerId, result })
    for (const loser of [...(job.runningByTask.get(i) ?? [])]) {
      this.abort(loser, out)
      // Defensive (a grouped task has no other attempt): the loser's other tasks must not be left running on nothing.
      if (loser.group !== undefined) forEachTask(loser, j => this.requeueIfIdle(job, j))
    }
  }

  private onTaskFailed (e: Extract<SchedulerEvent, { type: 'taskFailed' }>, t: number, out: SchedulerEffect[]): void {
    const job = this.liveJobFor(e.jobId, true)
    if (job === undefined) return
    const attempt = typeof e.attemptId === 'string' ? job.running.get(e.attemptId) : undefined
    if (attempt === undefined) {
      this.counters.staleFailures++
      return
    }
    if (attempt.taskIndex !== e.taskIndex) {
      this.counters.droppedEvents++
      return
    }
    this.release(attempt)
    const error = this.errorText(e.error)
    if (attempt.group !== undefined && e.retryable !== false) this.ungroup(attempt)
    else if (attempt.group === undefined && typeof e.kind === 'string' && CRASH_KINDS.has(e.kind) && this.noteCrash(job, attempt.taskIndex, attempt.worker.peerId, crashText(error, e.kind), true, out)) { /* the job failed */ } else this.recordFailure(job, attempt.taskIndex, attempt.worker.peerId, error, e.retryable !== false, out, { kind: isFailureKind(e.kind) ? e.kind : 'failed', ...(typeof e.stack === 'string' ? { stack: e.stack.slice(0, this.config.errorLengthMax) } : {}) })
    this.pump(t, out)
  }

  private onTaskReturned (e: Extract<SchedulerEvent, { type: 'taskReturned' }>, t: number, out: SchedulerEffect[]): void {
    const job = this.liveJobFor(e.jobId, true)
    if (job === undefined) return
    const attempt = typeof e.attemptId === 'string' ? job.running.get(e.attemptId) : undefined
    if (attempt === undefined || attempt.taskIndex !== e.taskIndex) {
      this.counters.staleFailures++
      return
    }
    const worker = attempt.worker
    // Until the worker's vector says `accepting: false`, do not hand it the task straight back.
    worker.unreachableUntilMs = Math.max(worker.unreachableUntilMs, t + this.config.unreachableCooldownMs)
    this.release(attempt)
    this.counters.returned++
    forEachTask(attempt, i => this.requeueIfIdle(job, i))
    this.pump(t, out)
  }

  private onPeerUnreachable (peerId: unknown, left: boolean, t: number, out: SchedulerEffect[]): void {
    const worker = typeof peerId === 'string' ? this.workerMap.get(peerId) : undefined
    if (worker === undefined) {
      this.counters.droppedEvents++
      return
    }
    worker.unreachableUntilMs = t + this.config.unreachableCooldownMs
    if (!left) this.rememberBroken(worker, t)
    this.loseWorker(worker, `stream to worker ${worker.peerId} broke`, false, out)
    this.pump(t, out)
  }

  private onCancelJob (jobId: unknown, t: number, out: SchedulerEffect[]): void {
    const job = typeof jobId === 'string' ? this.active.get(jobId) : undefined
    if (job === undefined) {
      this.counters.droppedEvents++
      return
    }
    this.abortAll(job, out)
    out.push({ type: 'jobCancelled', jobId: job.jobId })
    this.retire(job, 'cancelled')
    this.pump(t, out)
  }

  private onTick (t: number, out: SchedulerEffect[]): void {
    this.expireAttempts(t, out)
    this.pump(t, out)
    this.launchBackups(t, out)
  }

  // ---- scheduling ----

  /** Fills every free window slot: fair share picks the job, placement picks the worker. */
  private pump (t: number, out: SchedulerEffect[]): void {
    // Constrained jobs with no capable worker free, and jobs of long tasks with a task on every
    // worker slot, are set aside for this pump, so they do not block the jobs behind them in fair-share order.
    let blocked: LiveJob[] | undefined
    for (;;) {
      const job = this.fairShare.peek()
      if (job === undefined) break
      const taskIndex = job.queue.peek()
      if (taskIndex < 0) { // defensive: the heap holds only jobs with queued tasks
        this.fairShare.remove(job)
        continue
      }
      // Only a job of short tasks may go on into the deeper windows once the plain ones are
      // full, and only while it is first in fair-share order: a job behind it is not starved,
      // since the short job's share grows until the other comes first and stops the pump.
      const short = deepWindow(job)
      if ((short ? this.freeShortSlots : this.freeSlots) <= 0) break
      const worker = this.pickFor(job, taskIndex, undefined, t)
      if (worker === undefined || worker === 'wait') {
        // Unconstrained, not long and not kept local: no worker can take anything (avoid is only a preference).
        if (job.requires === undefined && job.pace !== 'long' && worker === undefined) break
        this.fairShare.remove(job);
        (blocked ??= []).push(job)
        continue
      }
      job.queue.take()
      this.launch(job, taskIndex, worker, false, t, out, this.groupAfter(job, taskIndex, worker))
    }
    if (blocked !== undefined) for (const job of blocked) this.touch(job)
  }

  /**
   * Stragglers: once a job has nothing queued, an attempt running longer than
   * max(backupMinMs, backupFactor * median duration) gets one copy on another worker with
   * room. Needs at least one completed task of the job to know its pace. A job kept on this node
   * copies its attempts elsewhere — the few placed before it was kept, maybe on nodes still
   * starting their executors — here once they run longer than backupFactor * median: a copy of a
   * task that short costs next to nothing, and the job would otherwise end with them.
   */
  private launchBackups (t: number, out: SchedulerEffect[]): void {
    if (this.attempts.size === 0) return
    for (const job of this.active.values()) {
      if (job.queue.size > 0 || job.running.size === 0) continue
      const medianMs = job.durations.median()
      if (medianMs === undefined) continue
      const thresholdMs = Math.max(this.config.backupMinMs, this.config.backupFactor * medianMs)
      const elsewhereMs = job.keepLocal ? this.config.backupFactor * medianMs : thresholdMs
      // Start order: stop at the first attempt younger than both thresholds. Backups added
      // here are visited too, but they are brand new and end the loop.
      for (const a of job.running.values()) {
        const ageMs = t - a.startedAtMs
        if (ageMs <= elsewhereMs) break
        if (ageMs <= thresholdMs && a.worker.peerId === this.localPeerId) continue
        // A group runs on this node only; if it hangs, its timeout runs its tasks again one by one.
        if (a.backup || a.group !== undefined || job.backupUsed[a.taskIndex] === 1) continue
        if (this.freeShortSlots <= 0) return
        if (!deepWindow(job) && this.freeSlots <= 0) break
        const worker = this.pickFor(job, a.taskIndex, a.worker.peerId, t)
        if (worker === undefined || worker === 'wait') continue
        job.backupUsed[a.taskIndex] = 1
        this.counters.backupsLaunched++
        this.launch(job, a.taskIndex, worker, true, t, out)
      }
    }
  }

  /**
   * A worker for an attempt of the job's task, within the windows its pace allows: a short job's
   * may go deeper, a long job's only onto a worker with fewer of its attempts than slots. A job kept
   * local waits for room on this node rather than go elsewhere, while this node can run it ('wait');
   * so do backups of its attempts elsewhere. A backup of one on this node (`exclude`: not where
   * the original runs) is placed as any job's.
   */
  private pickFor (job: LiveJob, taskIndex: number, exclude: string | undefined, t: number): WorkerRecord | 'wait' | undefined {
    if (job.keepLocal && exclude !== this.localPeerId) {
      const worker = this.localWorker()
      // An attempt that will carry a group: one per slot (see SchedulerConfig.localGroupMax).
      const grouped = worker !== undefined && exclude === undefined && this.groupSize(job, taskIndex, worker, job.queue.size) > 1
      const local = pickLocal(worker, t, job.avoid.get(taskIndex), job.requires, grouped ? worker.slotsTotal : undefined)
      if (local !== undefined) return local
    }
    return pickWorker(this.workerList, t, this.random, job.avoid.get(taskIndex), exclude, job.requires, job.pace === 'long' ? job.inFlightOn : undefined, deepWindow(job))
  }

  /** Timed-out attempts are aborted and count as failures (then retried elsewhere). */
  private expireAttempts (t: number, out: SchedulerEffect[]): void {
    const expired: Attempt[] = []
    for (const a of this.attempts.values()) {
      if (t - a.startedAtMs < this.config.taskTimeoutMs) break
      expired.push(a)
    }
    for (const a of expired) {
      if (!this.attempts.has(a.id)) continue // its job already failed in this loop
      this.counters.timeouts++
      this.abort(a, out)
      if (a.group !== undefined) this.ungroup(a)
      else this.recordFailure(a.job, a.taskIndex, a.worker.peerId, `timed out after ${this.config.taskTimeoutMs}ms`, true, out, { kind: 'timeout' })
    }
  }

  private launch (job: LiveJob, taskIndex: number, worker: WorkerRecord, backup: boolean, t: number, out: SchedulerEffect[], group?: number[]): void {
    const n = (job.attemptsStarted[taskIndex] as number) + 1
    const attempt: Attempt = { id: `${job.jobId}:${taskIndex}:${n}${job.attemptSuffix}`, job, taskIndex, worker, startedAtMs: t, backup, group }
    forEachTask(attempt, i => {
      job.attemptsStarted[i] = (job.attemptsStarted[i] as number) + 1
      job.taskState[i] = TASK_RUNNING
    })
    job.addRunning(attempt)
    // pickWorker only returns workers with room in the window the job may use.
    if (worker.attempts.size < worker.window) this.freeSlots--
    if (worker.attempts.size < worker.shortWindow) this.freeShortSlots--
    worker.attempts.set(attempt.id, attempt)
    if (this.keptHere(attempt)) worker.keptLocal++
    this.attempts.set(attempt.id, attempt)
    this.touch(job)
    out.push(group === undefined
      ? { type: 'assign', peerId: worker.peerId, jobId: job.jobId, taskIndex, attemptId: attempt.id, backup }
      : { type: 'assign', peerId: worker.peerId, jobId: job.jobId, taskIndex, attemptId: attempt.id, backup, group })
  }

  /**
   * More of a kept job's queued tasks to run with `taskIndex` in one attempt on this node
   * (SchedulerConfig.localGroupMax), taken from the queue; undefined: it runs alone.
   */
  private groupAfter (job: LiveJob, taskIndex: number, worker: WorkerRecord): number[] | undefined {
    const size = this.groupSize(job, taskIndex, worker, job.queue.size + 1)
    if (size <= 1) return undefined
    const group: number[] = []
    while (group.length < size - 1) {
      const next = job.queue.peek()
      if (next < 0 || job.solo.has(next)) break
      job.queue.take()
      group.push(next)
    }
    return group.length > 0 ? group : undefined
  }

  /**
   * How many tasks an attempt of `taskIndex` on `worker` carries, `queued` tasks waiting (the task
   * included): up to localGroupMax for a kept job on this node, fewer once the queue no longer
   * fills a group for each of the node's slots; 1 for any other, and for a task that runs alone.
   */
  private groupSize (job: LiveJob, taskIndex: number, worker: WorkerRecord, queued: number): number {
    if (job.solo.has(taskIndex)) return 1
    if (job.combines && !job.keepLocal) return combineGroupSize(queued, this.slotsInView, this.config.localGroupMax)
    if (!job.keepLocal) return this.fineGroupSize(job, queued)
    if (worker.peerId !== this.localPeerId) return 1
    return Math.max(1, Math.min(this.config.localGroupMax, Math.floor(queued / Math.max(1, worker.slotsTotal))))
  }

  /**
   * A job of fine tasks (running for under half of remoteGroupRunMs each) that is spread over the
   * mesh sends them in groups of about remoteGroupRunMs of work: each message, wake-up and
   * executor call carries many tasks, while the queue still gives every slot of the mesh about
   * two groups (combineGroupSize). 1 until run times come back, and for coarser tasks.
   */
  private fineGroupSize (job: LiveJob, queued: number): number {
    const runMs = job.runDurations.median()
    const target = this.config.remoteGroupRunMs
    if (runMs === undefined || target <= 0 || runMs * 2 >= target) return 1
    return Math.max(1, Math.min(Math.floor(target / Math.max(runMs, 0.001)), combineGroupSize(queued, this.slotsInView, this.config.localGroupMax)))
  }

  /** A group attempt failed, timed out or was lost (already released): its tasks run again, alone, no failure counted. */
  private ungroup (a: Attempt): void {
    forEachTask(a, i => {
      a.job.solo.add(i)
      this.requeueIfIdle(a.job, i)
    })
  }

  /** Ends an attempt's bookkeeping (whatever ended it) and frees its window slot. */
  private release (a: Attempt): void {
    this.attempts.delete(a.id)
    const w = a.worker
    w.attempts.delete(a.id)
    if (this.keptHere(a)) w.keptLocal--
    // A slot on a worker no longer in the view (or over a shrunken window) frees nothing.
    if (this.workerMap.get(w.peerId) === w && takesWork(w)) {
      if (w.attempts.size < w.window) this.freeSlots++
      if (w.attempts.size < w.shortWindow) this.freeShortSlots++
    }
    a.job.removeRunning(a)
    this.touch(a.job)
  }

  private abort (a: Attempt, out: SchedulerEffect[]): void {
    out.push({ type: 'abort', peerId: a.worker.peerId, jobId: a.job.jobId, taskIndex: a.taskIndex, attemptId: a.id })
    this.release(a)
  }

  private abortAll (job: LiveJob, out: SchedulerEffect[]): void {
    for (const a of [...job.running.values()]) this.abort(a, out)
  }

  /** Counts a failed attempt (already released); retries the task or fails the job. */
  /**
   * A failed attempt of task `i`: run again elsewhere, unless its job's retry policy says no (its
   * attempts are spent, the kind is not one it retries, or the task threw the same error twice:
   * a bug in the code, not the node) — then the job fails, saying which task failed and how.
   */
  private recordFailure (job: LiveJob, i: number, peerId: string, error: string, retryable: boolean, out: SchedulerEffect[], detail: { kind: FailureKind, stack?: string } = { kind: 'failed' }): void {
    const failures = (job.failures[i] as number) + 1
    job.failures[i] = failures
    job.failuresTotal++
    const avoid = job.avoid.get(i)
    if (avoid === undefined) job.avoid.set(i, [peerId])
    else if (!avoid.includes(peerId)) avoid.push(peerId)
    const repeated = detail.kind === 'threw' && job.lastError.get(i) === error
    job.lastError.set(i, error)
    const notRetried = !retryable
      ? 'not retryable'
      : failures >= job.maxAttempts
        ? undefined
        : job.retryOn !== undefined && !job.retryOn.has(detail.kind)
          ? `the job retries only ${[...job.retryOn].join(', ')}`
          : repeated ? 'the same error twice' : null
    if (notRetried === null) return this.requeueIfIdle(job, i)
    const text = `Task ${i} failed after ${failures} attempt${failures === 1 ? '' : 's'}${notRetried !== undefined && notRetried !== 'not retryable' ? ` (not run again: ${notRetried})` : ''}: ${error}`
    const kindPrefix = `${detail.kind}: `
    const failure: TaskFailure = {
      taskIndex: i, attempts: failures, kind: detail.kind, peerId,
      message: error.startsWith(kindPrefix) ? error.slice(kindPrefix.length) : error,
      ...(detail.stack !== undefined ? { stack: detail.stack } : {}),
      ...(notRetried !== undefined ? { notRetried } : {}),
    }
    this.abortAll(job, out)
    out.push({ type: 'jobFailed', jobId: job.jobId, error: text, taskIndex: i, failure })
    this.retire(job, 'failed', text)
  }

  /**
   * A worker is gone or unreachable: its attempts go back to the queue without counting as
   * failures. `died`: it died or became unreachable (not a graceful leave), so each solo attempt
   * it was running counts toward its task's poison rule.
   */
  private loseWorker (worker: WorkerRecord, reason: string, died: boolean, out: SchedulerEffect[]): void {
    for (const a of [...worker.attempts.values()]) {
      if (!this.attempts.has(a.id)) continue // aborted when its job failed earlier in this loop
      this.release(a)
      this.counters.requeuedLost++
      if (a.group !== undefined) {
        this.ungroup(a)
        continue
      }
      const job = a.job
      const i = a.taskIndex
      if (died && this.noteCrash(job, i, worker.peerId, reason, false, out)) continue
      const lost = job.lost[i] as number
      if (lost < this.config.lostPerTaskMax) {
        job.lost[i] = lost + 1
        this.requeueIfIdle(job, i)
      } else {
        // A task that keeps losing its workers (maybe killing them) must end somehow.
        this.recordFailure(job, i, worker.peerId, `lost ${lost + 1} times; last: ${reason}`, true, out, { kind: 'lost' })
      }
    }
  }

  private rememberBroken (worker: WorkerRecord, t: number): void {
    let list = this.brokenOn.get(worker.peerId)
    for (const a of worker.attempts.values()) {
      if (a.group !== undefined || !this.attempts.has(a.id)) continue
      if (list === undefined) this.brokenOn.set(worker.peerId, list = [])
      if (list.length < BROKEN_PER_PEER_MAX) list.push({ job: a.job, taskIndex: a.taskIndex, atMs: t })
    }
  }

  /** The peer is dead: the attempts its stream lost shortly before were crashes after all. */
  private countBrokenAsCrashed (peerId: string, reason: string, t: number, out: SchedulerEffect[]): void {
    const list = this.brokenOn.get(peerId)
    if (list === undefined) return
    this.brokenOn.delete(peerId)
    for (const b of list) {
      if (t - b.atMs > this.config.brokenThenDeadWithinMs || this.active.get(b.job.jobId) !== b.job || b.job.taskState[b.taskIndex] === TASK_DONE) continue
      this.noteCrash(b.job, b.taskIndex, peerId, `${reason} after its stream broke`, false, out)
    }
  }

  private forgetOldBreaks (t: number): void {
    for (const [peerId, list] of this.brokenOn) {
      if (list.every(b => t - b.atMs > this.config.brokenThenDeadWithinMs)) this.brokenOn.delete(peerId)
    }
  }

  /**
   * The poison rule (SchedulerConfig.crashNodesMax): a solo attempt of task `i` on `peerId` ended
   * with its executor or node dead (already released). Once that happened on enough distinct
   * nodes, the job fails at once, naming them, and the task is never placed again; true then.
   * `failed`: the attempt also counts as a failed one (an executor death; a lost node does not).
   */
  private noteCrash (job: LiveJob, i: number, peerId: string, last: string, failed: boolean, out: SchedulerEffect[]): boolean {
    const max = this.config.crashNodesMax
    if (max === 0) return false
    let nodes = job.crashedOn.get(i)
    if (nodes === undefined) job.crashedOn.set(i, nodes = [])
    if (!nodes.includes(peerId)) nodes.push(peerId)
    if (nodes.length < max) return false
    if (failed) {
      job.failures[i] = Math.min(255, (job.failures[i] as number) + 1)
      job.failuresTotal++
    }
    const error = `Task ${i} crashed its executor or node on ${nodes.length} nodes (${nodes.map(shortPeer).join(', ')}): not placed again (last: ${last})`
    this.abortAll(job, out)
    out.push({ type: 'jobFailed', jobId: job.jobId, error, taskIndex: i })
    this.retire(job, 'failed', error)
    return true
  }

  /** Back to the front of the queue, unless another attempt of the task (a backup) still runs. */
  private requeueIfIdle (job: LiveJob, i: number): void {
    if (job.runningCount(i) > 0 || job.taskState[i] === TASK_DONE) return
    job.queue.pushRetry(i)
    this.touch(job)
  }

  private complete (job: LiveJob, out: SchedulerEffect[]): void {
    this.abortAll(job, out) // nothing should run any more; defensive
    out.push({
      type: 'jobDone',
      jobId: job.jobId,
      results: job.results,
      tasksByPeer: Object.fromEntries(job.byPeer),
      duplicatesDiscarded: job.duplicatesDiscarded,
    })
    this.retire(job, 'done')
  }

  /** Moves a job to the finished summaries; its per-task state is dropped. */
  private retire (job: LiveJob, state: JobStatus, error?: string): void {
    this.active.delete(job.jobId)
    this.constrained.delete(job)
    this.fairShare.remove(job)
    if (this.config.finishedJobsMax === 0) return
    const summary = this.summarize(job)
    summary.state = state
    if (error !== undefined) summary.error = error
    this.finished.delete(job.jobId)
    this.finished.set(job.jobId, summary)
    while (this.finished.size > this.config.finishedJobsMax) {
      const oldest = this.finished.keys().next().value as string
      this.finished.delete(oldest)
    }
  }

  /** A job refused before it started (limits, bad input): jobFailed and a summary. */
  private refuse (jobId: string, error: string, out: SchedulerEffect[]): void {
    out.push({ type: 'jobFailed', jobId, error, taskIndex: null })
    if (this.config.finishedJobsMax === 0) return
    this.finished.delete(jobId)
    this.finished.set(jobId, { jobId, state: 'failed', weight: 1, total: 0, done: 0, inFlight: 0, queued: 0, failures: 0, byPeer: {}, inFlightByPeer: {}, duplicatesDiscarded: 0, error })
    while (this.finished.size > this.config.finishedJobsMax) this.finished.delete(this.finished.keys().next().value as string)
  }

  /**
   * The job's pace from its median task duration (see SchedulerConfig.shortTaskBelowMs and
   * pipelineBelowMs), and whether it is kept on this node (localRunBelowMsPerSlot, per slot this node has).
   */
  private setPace (job: LiveJob, medianMs: number): void {
    job.pace = medianMs < this.config.shortTaskBelowMs ? 'short' : medianMs < this.config.pipelineBelowMs ? 'normal' : 'long'
    const runMs = job.runDurations.median()
    const local = this.localWorker()
    // Run time alone decides: round trips of a job's first tasks are long while workers start their executors.
    const keep = runMs !== undefined && local !== undefined && runMs < local.slotsTotal * this.config.localRunBelowMsPerSlot
    if (keep === job.keepLocal) return
    job.keepLocal = keep
    // The job's attempts already on this node count as kept there (or no longer): they are not another job's work.
    for (const a of job.running.values()) if (a.worker.peerId === this.localPeerId) a.worker.keptLocal += keep ? 1 : -1
  }

  /** This node's worker record, when it is in the view. */
  private localWorker (): WorkerRecord | undefined {
    return this.localPeerId === undefined ? undefined : this.workerMap.get(this.localPeerId)
  }

  /**
   * Whether an attempt counts in its worker's `keptLocal`: on this node, of a job kept here. Launch,
   * release and setPace (when the job's keepLocal changes) keep the count equal to that.
   */
  private keptHere (a: Attempt): boolean {
    return a.job.keepLocal && a.worker.peerId === this.localPeerId
  }

  /** Keeps the fair-share heap in step with the job's in-flight count and queue. */
  private touch (job: LiveJob): void {
    this.fairShare.update(job, job.queue.size > 0 && this.active.get(job.jobId) === job)
  }

  /**
   * The running job an event is about. Events about a finished job are late (results of
   * aborted copies, failures of aborted attempts) and counted; unknown jobs are dropped.
   */
  private liveJobFor (jobId: unknown, failure = false): LiveJob | undefined {
    if (typeof jobId !== 'string') {
      this.counters.droppedEvents++
      return undefined
    }
    const job = this.active.get(jobId)
    if (job !== undefined) return job
    const finished = this.finished.get(jobId)
    if (finished === undefined) this.counters.droppedEvents++
    else if (failure) this.counters.staleFailures++
    else {
      finished.duplicatesDiscarded++
      this.counters.duplicatesDiscarded++
    }
    return undefined
  }

  private errorText (error: unknown): string {
    const text = typeof error === 'string' && error.length > 0 ? error : 'unknown error'
    return text.length > this.config.errorLengthMax ? `${text.slice(0, this.config.errorLengthMax)}…` : text
  }

  private summarize (job: LiveJob): JobSummary {
    const inFlightByPeer = new Map<string, number>()
    for (const a of job.running.values()) inFlightByPeer.set(a.worker.peerId, (inFlightByPeer.get(a.worker.peerId) ?? 0) + 1)
    return {
      jobId: job.jobId,
      state: 'running',
      weight: job.weight,
      total: job.total,
      done: job.doneCount,
      inFlight: job.inFlight,
      queued: job.queue.size,
      failures: job.failuresTotal,
      byPeer: Object.fromEntries(job.byPeer),
      inFlightByPeer: Object.fromEntries(inFlightByPeer),
      duplicatesDiscarded: job.duplicatesDiscarded,
    }
  }
}

/** A job of short tasks, or one kept on this node, may fill a worker's deeper window (SchedulerConfig.shortWindowPerSlot). */
function deepWindow (job: LiveJob): boolean {
  return job.pace === 'short' || job.keepLocal
}

/** Alive and accepting: may get new attempts when its window has room. */
function takesWork (w: WorkerRecord): boolean {
  return w.status === 'alive' && w.accepting
}

/** Cap on remembered broken attempts per peer (one stream break per window of attempts, a few breaks). */
const BROKEN_PER_PEER_MAX = 4096

interface BrokenAttempt { job: LiveJob, taskIndex: number, atMs: number }

/** The first line of a failure's text, without the `kind: ` the coordinator puts in front. */
function crashText (error: string, kind: string): string {
  const line = error.split('\n', 1)[0] ?? error
  return line.startsWith(`${kind}: `) ? line.slice(kind.length + 2) : line
}

function sanitizeWeight (weight: unknown): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) return 1
  return Math.min(WEIGHT_MAX, Math.max(WEIGHT_MIN, weight))
}

function copySummary (s: JobSummary): JobSummary {
  return { ...s, byPeer: { ...s.byPeer }, inFlightByPeer: { ...s.inFlightByPeer } }
}

/** Whether a result's group is the attempt's, task for task (a result naming other tasks is refused). */
function groupMatches (a: Attempt, group: ReadonlyArray<readonly [number, unknown]> | undefined): boolean {
  const expected = a.group
  if (expected === undefined || group === undefined) return expected === undefined && group === undefined
  if (!Array.isArray(group) || group.length !== expected.length) return false
  for (let k = 0; k < expected.length; k++) if (group[k]?.[0] !== expected[k]) return false
  return true
}

/**
 * How many tasks a combining job's next group carries: enough that each slot of the mesh gets
 * about COMBINE_GROUPS_PER_SLOT groups of what is queued — results folded per group, while the
 * last groups stay small enough to even out the end — at most `max` (localGroupMax).
 */
export function combineGroupSize (queued: number, slots: number, max: number): number {
  return Math.max(1, Math.min(max, Math.ceil(queued / (COMBINE_GROUPS_PER_SLOT * Math.max(1, slots)))))
}
export const COMBINE_GROUPS_PER_SLOT = 2
