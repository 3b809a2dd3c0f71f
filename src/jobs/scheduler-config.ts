import type { FailureKind } from './failure-kinds.js'
// Scheduler tuning and limits. Every queue, count and retry has a bound here.

export interface SchedulerConfig {
  /** Failed attempts per task before the job fails. */
  maxAttempts: number
  /** A running attempt older than this is aborted and counts as a failure. */
  taskTimeoutMs: number
  /** In-flight attempts per worker = slotsTotal * windowPerSlot, across all jobs (2: the next task is always queued). */
  windowPerSlot: number
  /**
   * A job whose median task takes at least this long (ms, as this coordinator sees it) gets no
   * attempts queued behind a worker's busy slots: a long task waiting on one node could not move
   * to another that frees a slot first, and the job would end on one node's queue. Shorter tasks
   * are queued (windowPerSlot), so a worker never waits a round trip for its next one.
   */
  pipelineBelowMs: number
  /**
   * A job whose median task takes less than this (ms, as this coordinator sees it: the round trip)
   * may have up to slotsTotal * shortWindowPerSlot attempts on a worker, all jobs counted. Such
   * tasks cost less than the messages that carry them, and a deeper window lets every hop
   * (coordinator, worker daemon, executor) carry more of them per message and per wake-up.
   * 0 turns the rule off; at most pipelineBelowMs.
   */
  shortTaskBelowMs: number
  /** See shortTaskBelowMs; at least windowPerSlot (a smaller value counts as windowPerSlot). */
  shortWindowPerSlot: number
  /**
   * A job whose median task runs in its executor for less than this many ms per slot of the
   * coordinator's own node is kept on that node while it can run the job's tasks (placement's
   * pickLocal); other nodes get them only when it cannot, and its attempts placed elsewhere before
   * it was kept get a copy there when they lag at the end (see backupFactor). Handed to the local
   * executors, such a task costs about half the CPU it costs sent to another node (all processes
   * counted, 3-node mesh on one 2-core machine), and those executors still finish them faster than
   * the coordinator hands them out (one per 24–38 µs of its CPU, measured), so other nodes would add
   * cost, not speed; their owners' machines are left alone too. 0 turns the rule off.
   */
  localRunBelowMsPerSlot: number
  /**
   * A job kept on the coordinator's node (localRunBelowMsPerSlot) sends its tasks there in groups
   * of up to this many per attempt, one group per slot of the node (fewer tasks per group once the
   * queue no longer fills one per slot; then single tasks in the deeper window). Scheduling, the
   * timeline, the hops between coordinator, worker and executor, and the executor call cost once
   * per group, not per task. 20 000 empty tasks on a 3-node mesh, 8 jobs in a row (its first job on
   * a node, then later ones): one task per attempt 22–23 k, then 28–57 k tasks/s; 8 per group
   * 34–46 k, then 50–95 k; 32 per group 59–89 k, then 57–96 k, at a group round trip of 0.22–0.35 ms
   * (8 per group in the deeper window of 8 attempts instead of one per slot: 0.7–1.6 ms, as groups
   * queued behind each other). A group that fails, times out or is lost is not counted as a
   * failure: its tasks run again one by one. 1 turns it off.
   */
  localGroupMax: number
  /**
   * A job spread over the mesh whose tasks run for less than half of this (ms, median in the
   * executor) sends them in groups of about this much work per attempt (Scheduler.fineGroupSize):
   * 1 ms tasks one per message cost more in messages and wake-ups than they run. 0 turns it off.
   */
  remoteGroupRunMs: number
  /** A straggler is an attempt running longer than max(backupMinMs, backupFactor * median task duration). */
  backupMinMs: number
  backupFactor: number
  maxTasksPerJob: number
  /** Jobs running at once; more are refused with jobFailed. */
  jobsMax: number
  /** Finished jobs kept for inspection (summaries only; oldest forgotten first). */
  finishedJobsMax: number
  /** Workers considered from one membership view; the rest are ignored. */
  workersMax: number
  /** Slots per worker taken into account (a bogus huge slotsTotal cannot take every task). */
  slotsPerWorkerMax: number
  /** Lost attempts per task (worker died or unreachable) that are forgiven; later losses count as failures, so a task that kills its workers cannot loop forever. */
  lostPerTaskMax: number
  /**
   * The poison rule: once solo attempts of one task ended on this many distinct nodes with their
   * executor dead (a failure of a CRASH_KINDS kind: it exited, was killed, ran out of memory or
   * broke the executor protocol) or, on a node whose tasks run unboxed (`--sandbox none`: a task
   * could kill it), their node dead while running it, the job
   * fails at once instead of placing the task again. A task that kills what runs it would
   * otherwise take the mesh down one node per retry. Graceful leaves, drains, handed-back tasks,
   * ordinary thrown errors and timeouts do not count; nor do group attempts (their tasks run again
   * alone, and count from then on). 0 turns the rule off.
   */
  crashNodesMax: number
  /**
   * A broken stream alone is not a death: a partition or a paused process breaks streams too.
   * Attempts lost that way count toward the poison rule only if the membership declares that
   * node dead within this long after the break.
   */
  brokenThenDeadWithinMs: number
  /** After a broken stream, the worker gets no new tasks for this long (gossip may still say alive). */
  unreachableCooldownMs: number
  /** Completed-task durations kept per job for the straggler median. */
  durationSamplesMax: number
  jobIdLengthMax: number
  errorLengthMax: number
  /** Emit a taskDone effect for every accepted result (for replication to backups). */
  emitTaskDone: boolean
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  maxAttempts: 3,
  taskTimeoutMs: 60_000,
  windowPerSlot: 2,
  pipelineBelowMs: 50,
  shortTaskBelowMs: 5,
  shortWindowPerSlot: 4,
  localRunBelowMsPerSlot: 0.025,
  localGroupMax: 32,
  remoteGroupRunMs: 40,
  backupMinMs: 1000,
  backupFactor: 3,
  maxTasksPerJob: 1_000_000,
  jobsMax: 10_000,
  finishedJobsMax: 1000,
  workersMax: 10_000,
  slotsPerWorkerMax: 1024,
  lostPerTaskMax: 10,
  crashNodesMax: 2,
  unreachableCooldownMs: 5000,
  brokenThenDeadWithinMs: 15_000,
  durationSamplesMax: 255,
  jobIdLengthMax: 256,
  errorLengthMax: 4096,
  emitTaskDone: false,
}

/**
 * Failure kinds (task.failed's `kind`, src/node/executor/executor-pool.ts's TaskFailureKind) that mean the
 * executor itself died or was killed while running the task, or stopped speaking its protocol:
 * they count toward the poison rule (SchedulerConfig.crashNodesMax).
 */
export const CRASH_KINDS: ReadonlySet<string> = new Set<FailureKind>(['exited', 'oom', 'protocol'])

// Attempt counters are kept in 8-bit arrays per task (a million tasks stay cheap).
const PER_TASK_COUNT_MAX = 100
/** The most tasks one attempt may carry (the wire refuses larger groups too). */
export const GROUP_TASKS_MAX = 1024

/** Defaults plus overrides; throws on a configuration that cannot work (a programming error, not an event). */
export function schedulerConfig (overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const config = { ...DEFAULT_SCHEDULER_CONFIG, ...overrides }
  type NumericKey = { [K in keyof SchedulerConfig]: SchedulerConfig[K] extends number ? K : never }[keyof SchedulerConfig]
  const intIn = (name: NumericKey, min: number, max: number): void => {
    const v = config[name]
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`Scheduler config ${name} must be an integer in [${min}, ${max}], got ${v}`)
  }
  const positive = (name: NumericKey): void => {
    const v = config[name]
    if (!Number.isFinite(v) || v <= 0) throw new Error(`Scheduler config ${name} must be a finite number > 0, got ${v}`)
  }
  intIn('maxAttempts', 1, PER_TASK_COUNT_MAX)
  intIn('lostPerTaskMax', 0, PER_TASK_COUNT_MAX)
  intIn('crashNodesMax', 0, PER_TASK_COUNT_MAX)
  intIn('maxTasksPerJob', 0, 2 ** 31 - 1)
  intIn('jobsMax', 1, 1_000_000)
  intIn('finishedJobsMax', 0, 1_000_000)
  intIn('workersMax', 1, 1_000_000)
  intIn('slotsPerWorkerMax', 1, 1_000_000)
  intIn('durationSamplesMax', 1, 1_000_000)
  intIn('jobIdLengthMax', 1, 1_000_000)
  intIn('errorLengthMax', 16, 1_000_000)
  intIn('localGroupMax', 1, GROUP_TASKS_MAX)
  positive('taskTimeoutMs')
  positive('windowPerSlot')
  positive('pipelineBelowMs')
  positive('shortWindowPerSlot')
  positive('backupMinMs')
  positive('backupFactor')
  if (!(config.shortTaskBelowMs >= 0 && Number.isFinite(config.shortTaskBelowMs))) throw new Error(`Scheduler config shortTaskBelowMs must be a finite number >= 0, got ${config.shortTaskBelowMs}`)
  if (!(config.remoteGroupRunMs >= 0 && Number.isFinite(config.remoteGroupRunMs))) throw new Error(`Scheduler config remoteGroupRunMs must be a finite number >= 0, got ${config.remoteGroupRunMs}`)
  if (!(config.localRunBelowMsPerSlot >= 0 && Number.isFinite(config.localRunBelowMsPerSlot))) throw new Error(`Scheduler config localRunBelowMsPerSlot must be a finite number >= 0, got ${config.localRunBelowMsPerSlot}`)
  if (config.shortTaskBelowMs > config.pipelineBelowMs) throw new Error(`Scheduler config shortTaskBelowMs (${config.shortTaskBelowMs}) must not exceed pipelineBelowMs (${config.pipelineBelowMs})`)
  if (!(config.brokenThenDeadWithinMs >= 0)) throw new Error(`Scheduler config brokenThenDeadWithinMs must be >= 0, got ${config.brokenThenDeadWithinMs}`)
  if (!(config.unreachableCooldownMs >= 0)) throw new Error(`Scheduler config unreachableCooldownMs must be >= 0, got ${config.unreachableCooldownMs}`)
  return config
}
