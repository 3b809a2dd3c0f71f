// Events in, effects out, and the read-only summaries of the coordinator's scheduling core
// (src/jobs/scheduler.ts).
import type { Requires } from './job-spec.js'
import type { RetryPolicy, TaskFailure } from './job-spec.js'
import type { NodeCaps } from './requires.js'
import type { Yielding } from './waiting.js'

export type WorkerStatus = 'alive' | 'suspect' | 'dead' | 'left'

/** One worker as the membership view currently describes it. */
export interface WorkerView {
  peerId: string
  slotsTotal: number
  /** Gossiped: free slots across every coordinator's tasks (stale by up to a gossip round). */
  slotsFree: number
  /** 0..1 */
  cpuLoad: number
  memFree: number
  /** False while the node is draining or its owner is busy: keep its tasks, send no new ones. */
  accepting: boolean
  status: WorkerStatus
  /** What the node offers (tools, labels, memory, cores); without it, only jobs that require nothing run there. */
  caps?: NodeCaps
  /** Gossiped: the owner's own CPU load (0..1), for saying why a job waits. */
  ownerCpuLoad?: number
  /** Gossiped: why the node does not accept tasks now (its owner policy), when it yields. */
  yielding?: Yielding
}

export type SchedulerEvent =
  | {
    type: 'addJob'
    jobId: string
    taskCount: number
    /** Fair-share weight, default 1 (callers map high=4, normal=1, low=0.25). */
    weight?: number
    /** Tasks already complete (failover restore): task index -> result. */
    done?: ReadonlyMap<number, unknown>
    /**
     * The coordinator term of this run of the job (integer >= 0, default 0). Attempt ids are
     * `${jobId}:${taskIndex}:${n}`, or `${jobId}:${taskIndex}:${n}@${term}` when term > 0: pass a
     * new term whenever a job is added again (failover, failback) so ids never repeat on workers.
     */
    term?: number
    /** Run tasks only on workers offering all of it; refused at once when no worker in view does. */
    requires?: Requires
    /** The job has a combine(): its tasks go out in groups to every worker, each group's results folded there (combineGroupSize). */
    combine?: boolean
    /** The module's retry policy (job-spec.ts RetryPolicy); default: maxAttempts, any kind. */
    retry?: RetryPolicy
  }
  /** Full replacement of the membership view. */
  | { type: 'workers', workers: ReadonlyArray<WorkerView> }
  /**
   * `runMs`: how long the task ran in its executor (the worker's measure; for a group, all its
   * tasks together); see SchedulerConfig.localRunBelowMsPerSlot. `group`: the results of a group
   * attempt's other tasks, [taskIndex, result] in the order of the assign's `group`.
   */
  | { type: 'taskOk', jobId: string, taskIndex: number, attemptId: string, result: unknown, runMs?: number, group?: ReadonlyArray<readonly [number, unknown]> }
  /**
   * `kind`: the worker's failure kind (e.g. 'threw', 'timeout', 'exited'); a CRASH_KINDS kind
   * counts toward the poison rule (SchedulerConfig.crashNodesMax).
   */
  /** `stack`: the task's remote stack, when its code threw. */
  | { type: 'taskFailed', jobId: string, taskIndex: number, attemptId: string, error: string, retryable?: boolean, kind?: string, stack?: string }
  /**
   * The worker handed the attempt back unrun or unfinished (its owner is busy, or it drains):
   * re-queued, not a failure; the worker gets no new attempts for unreachableCooldownMs.
   */
  | { type: 'taskReturned', jobId: string, taskIndex: number, attemptId: string }
  /**
   * The stream to a worker broke: its attempts are lost (re-queued, not failures), and count
   * toward the poison rule unless `left` (the node announced that it leaves: a graceful stop).
   */
  | { type: 'peerUnreachable', peerId: string, left?: boolean }
  | { type: 'cancelJob', jobId: string }
  /** Timeouts and speculative backups. */
  | { type: 'tick' }

export type SchedulerEffect =
  /** `group`: the job's other tasks the attempt runs after `taskIndex` (SchedulerConfig.localGroupMax). */
  | { type: 'assign', peerId: string, jobId: string, taskIndex: number, attemptId: string, backup: boolean, group?: readonly number[] }
  | { type: 'abort', peerId: string, jobId: string, taskIndex: number, attemptId: string }
  | {
    type: 'jobDone'
    jobId: string
    /** In chunk (task index) order. */
    results: unknown[]
    /** Tasks won per peer by this coordinator (restored `done` tasks are not counted). */
    tasksByPeer: Record<string, number>
    duplicatesDiscarded: number
  }
  /** A task's first result was accepted (only with config.emitTaskDone: the coordinator replicates it). */
  | { type: 'taskDone', jobId: string, taskIndex: number, peerId: string, result: unknown }
  /** `taskIndex` is null when the job failed as a whole (e.g. a limit), not by one task. */
  | { type: 'jobFailed', jobId: string, error: string, taskIndex: number | null, failure?: TaskFailure }
  | { type: 'jobCancelled', jobId: string }

export type JobStatus = 'running' | 'done' | 'failed' | 'cancelled'

export interface JobSummary {
  jobId: string
  state: JobStatus
  weight: number
  total: number
  done: number
  inFlight: number
  queued: number
  /** Failed attempts so far (timeouts included, lost attempts not). */
  failures: number
  /** Completed tasks per peer (this coordinator's completions only). */
  byPeer: Record<string, number>
  /** Running attempts per peer. */
  inFlightByPeer: Record<string, number>
  duplicatesDiscarded: number
  /** For failed jobs. */
  error?: string
}

export interface WorkerSummary {
  peerId: string
  status: WorkerStatus
  accepting: boolean
  /** Most attempts this coordinator keeps in flight on the worker. */
  window: number
  /** The window of jobs of short tasks (SchedulerConfig.shortWindowPerSlot). */
  shortWindow: number
  inFlight: number
  /** The worker is skipped for new tasks until this time after its stream broke. */
  unreachableUntilMs: number
}

export interface SchedulerStats {
  activeJobs: number
  retainedJobs: number
  inFlight: number
  queued: number
  /** Free window slots on alive, accepting workers. */
  freeSlots: number
  /** The same against the deeper windows of short jobs. */
  freeShortSlots: number
  /** Events about unknown jobs or peers, or malformed ones: ignored. */
  droppedEvents: number
  /** Results for finished tasks or attempts no longer running: ignored. */
  duplicatesDiscarded: number
  /** Failures reported for attempts no longer running (already aborted, timed out, lost): ignored. */
  staleFailures: number
  /** Attempts lost with their worker and put back in the queue. */
  requeuedLost: number
  /** Attempts handed back by workers yielding to their owner or draining (re-queued). */
  returned: number
  backupsLaunched: number
  timeouts: number
}
