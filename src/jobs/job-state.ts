import type { Requires } from './job-spec.js'
import type { WorkerRecord } from './placement.js'
import { DurationSamples } from './durations.js'
import { TASK_DONE, TaskQueue } from './task-queue.js'

// The per-job state a coordinator keeps while a job runs. Per-task data lives in typed
// arrays (a million-task job is a few MB); per-attempt data exists only while in flight.

/** One attempt of one task on one worker, from assign until it ends (result, failure, abort, loss). */
export interface Attempt {
  readonly id: string
  readonly job: LiveJob
  readonly taskIndex: number
  readonly worker: WorkerRecord
  readonly startedAtMs: number
  readonly backup: boolean
  /**
   * The job's other tasks this attempt runs after `taskIndex`, as one group on the coordinator's
   * own node (SchedulerConfig.localGroupMax); undefined for an attempt of one task.
   */
  readonly group: readonly number[] | undefined
}

/** Calls `f` with every task an attempt runs: its own, then its group's. */
export function forEachTask (a: Attempt, f: (taskIndex: number) => void): void {
  f(a.taskIndex)
  if (a.group !== undefined) for (const i of a.group) f(i)
}

/** How long a job's tasks take, as the scheduler's window rules see it (see LiveJob.pace). */
export type JobPace = 'short' | 'normal' | 'long'

export class LiveJob {
  readonly jobId: string
  readonly seq: number
  readonly weight: number
  readonly total: number
  /** Appended to attempt ids ('' for term 0) so a re-added job never reuses one. */
  readonly attemptSuffix: string
  /** Only workers offering all of it get this job's tasks (undefined: any worker). */
  requires: Requires | undefined = undefined
  /** FairShareQueue bookkeeping. */
  heapIndex = -1
  /** Running attempts (backups included): the fair-share measure. */
  inFlight = 0
  doneCount = 0
  failuresTotal = 0
  duplicatesDiscarded = 0
  readonly byPeer = new Map<string, number>()

  readonly taskState: Uint8Array
  /** Failed attempts per task (bounded by maxAttempts <= 100). */
  readonly failures: Uint8Array
  /** Forgiven lost attempts per task (bounded by lostPerTaskMax <= 100). */
  readonly lost: Uint8Array
  /** Attempts started per task: the `n` of the next attempt id (< maxAttempts + lostPerTaskMax + 2). */
  readonly attemptsStarted: Uint16Array
  /** 1 once a task had its one speculative backup. */
  readonly backupUsed: Uint8Array
  readonly results: unknown[]
  readonly queue: TaskQueue
  /** Running attempts by id, in start order (the clock is monotonic): oldest first for stragglers. */
  readonly running = new Map<string, Attempt>()
  /** Running attempts by task: at most a primary and its backup. */
  readonly runningByTask = new Map<number, Attempt[]>()
  /** Peers a task failed on, avoided by its retries while another worker is available. */
  readonly avoid = new Map<number, string[]>()
  readonly durations: DurationSamples
  /** How long the job's tasks ran in their executors, as the workers measured it. */
  readonly runDurations: DurationSamples
  /**
   * How long the job's tasks take, as far as known (SchedulerConfig.shortTaskBelowMs and
   * pipelineBelowMs): 'short' ones may fill a worker's deeper window, 'normal' ones its window,
   * and of 'long' ones a worker gets no more than it has slots, none queued behind its own.
   * Unknown until results come back: 'normal'.
   */
  pace: JobPace = 'normal'
  /**
   * Its tasks cost less to run than to ship: they go to the coordinator's own node while it can
   * run them (SchedulerConfig.localRunBelowMsPerSlot, placement's pickLocal). Unknown until results come back: false.
   */
  keepLocal = false
  /** The job has a combine(): its tasks go to every worker in groups whose results are folded there. */
  combines = false
  /** Attempts a task may fail before the job fails (the module's retries + 1, else SchedulerConfig.maxAttempts). */
  maxAttempts = 1
  /** Failure kinds run again (the module's retryOn); undefined: any. */
  retryOn: ReadonlySet<string> | undefined
  /** Per task, its last failure's text: the same error twice in a row is not run a third time. Sparse. */
  readonly lastError = new Map<number, string>()
  /** Running attempts per worker peer id. */
  readonly inFlightOn = new Map<string, number>()
  /**
   * Tasks that were in a group attempt that failed, timed out or was lost: they run alone from
   * then on, so a failure counts against the task that caused it, not its whole group.
   */
  readonly solo = new Set<number>()
  /**
   * Per task, the distinct nodes on which a solo attempt of it ended with its executor or its
   * node dead (SchedulerConfig.crashNodesMax). Sparse: only tasks that crashed something.
   */
  readonly crashedOn = new Map<number, string[]>()

  constructor (jobId: string, seq: number, weight: number, total: number, term: number, done: ReadonlyMap<number, unknown> | undefined, durationSamplesMax: number) {
    this.jobId = jobId
    this.attemptSuffix = term > 0 ? `@${term}` : ''
    this.seq = seq
    this.weight = weight
    this.total = total
    this.taskState = new Uint8Array(total)
    this.failures = new Uint8Array(total)
    this.lost = new Uint8Array(total)
    this.attemptsStarted = new Uint16Array(total)
    this.backupUsed = new Uint8Array(total)
    this.results = new Array<unknown>(total)
    this.durations = new DurationSamples(durationSamplesMax)
    this.runDurations = new DurationSamples(durationSamplesMax)
    if (done !== undefined) {
      for (const [index, result] of done) {
        // Only valid, distinct indices count; anything else in a restore is ignored.
        if (!Number.isInteger(index) || index < 0 || index >= total || this.taskState[index] === TASK_DONE) continue
        this.taskState[index] = TASK_DONE
        this.results[index] = result
        this.doneCount++
      }
    }
    // TASK_FRESH is 0, so every task not restored starts fresh.
    this.queue = new TaskQueue(this.taskState, total - this.doneCount)
  }

  addRunning (attempt: Attempt): void {
    this.running.set(attempt.id, attempt)
    forEachTask(attempt, i => {
      const list = this.runningByTask.get(i)
      if (list === undefined) this.runningByTask.set(i, [attempt])
      else list.push(attempt)
    })
    this.inFlight++
    const peerId = attempt.worker.peerId
    this.inFlightOn.set(peerId, (this.inFlightOn.get(peerId) ?? 0) + 1)
  }

  removeRunning (attempt: Attempt): void {
    if (!this.running.delete(attempt.id)) return
    forEachTask(attempt, i => {
      const list = this.runningByTask.get(i)
      if (list === undefined) return
      const rest = list.filter(a => a !== attempt)
      if (rest.length === 0) this.runningByTask.delete(i)
      else this.runningByTask.set(i, rest)
    })
    this.inFlight--
    const peerId = attempt.worker.peerId
    const n = (this.inFlightOn.get(peerId) ?? 0) - 1
    if (n > 0) this.inFlightOn.set(peerId, n)
    else this.inFlightOn.delete(peerId)
  }

  runningCount (taskIndex: number): number {
    return this.runningByTask.get(taskIndex)?.length ?? 0
  }
}
