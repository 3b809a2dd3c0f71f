import type { Membership } from '../../src/gossip/membership.js'
import type { OwnerPolicy } from '../../src/jobs/owner-policy.js'
import { WorkerCore } from '../../src/jobs/worker-core.js'
import type { ControlPlane } from './control-plane.js'

// One simulated machine: its hardware, liveness, and the state its bindings keep. The
// bindings (worker, coordinator, replicas) live in sim/arch and sim/model; a crash drops
// everything here but the hardware.

export interface RunningTask {
  from: number
  jobId: string
  taskIndex: number
  /** A group attempt's other tasks (run one after another in the same slot). */
  group?: readonly number[]
  startedMs: number
  durationMs: number
  /** Set while the owner policy has the executors stopped: work left when paused. */
  remainingMs?: number
}

export interface QueuedTask {
  from: number
  jobId: string
  taskIndex: number
  group?: readonly number[]
  attemptId: string
  term: number
}

export class SimNode {
  readonly id: string
  up = true
  /** Bumped by every crash: events scheduled for an earlier life are ignored. */
  epoch = 0
  incarnation = 1
  membership: Membership | undefined
  /** Runs the inbound side of the Membership core (receives vectors). */
  observer = false
  /** Tracks every peer (or the scale sample), not only the peers its roles name. */
  fullView = false
  readonly tracked = new Set<number>()
  // executor
  readonly running = new Map<string, RunningTask>()
  queue: QueuedTask[] = []
  queueHead = 0
  readonly queued = new Set<string>()
  /** Executor slots down while their daemon restarts them. */
  slotsDown = 0
  /** The worker role's core, as every real node runs it (src/jobs/worker-core.ts). */
  worker = new WorkerCore()
  ownerBusy = false
  /** The owner-policy core (src/jobs/owner-policy.ts) of a node with an owner, when the run names a policy. */
  policy: OwnerPolicy | undefined
  /** Executors stopped by the policy (SIGSTOP in the real binding): running tasks make no progress. */
  paused = false
  /** Owner-time accounting: executor-ms spent while the owner was busy, and when it was last brought up to date. */
  stolenMs = 0
  ownerBusyMs = 0
  accountedAtMs = 0
  accountedRunning = 0
  metricsPending = false
  lastMetricsMs = -Infinity
  /** Peers in this node's membership view when it last built one (the placement scan length). */
  viewSize = 1
  startedAtMs = 0
  crashedAtMs = -1
  /** Counted once per node: task execution time spent (ms), and tasks executed. */
  slotBusyMs = 0
  tasksRun = 0

  constructor (readonly index: number, readonly slots: number, readonly speed: number, readonly cpu: ControlPlane) {
    this.id = `n${String(index).padStart(5, '0')}`
  }

  get slotsFree (): number { return Math.max(0, this.slots - this.slotsDown - this.running.size) }
}

export function nodeIndexOf (peerId: string): number {
  return Number(peerId.slice(1))
}
