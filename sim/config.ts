// Every model parameter of a run, with defaults and the reason for each. Units last.
// Service costs marked "measured" were timed on the 2-core development machine against the
// real cores (decodeGossip, Scheduler.step); they are fixed here so runs stay deterministic.

export type ArchName = 'p2p' | 'master-slave' | 'sync-db' | 'state-daemon'
export const ARCH_NAMES: readonly ArchName[] = ['p2p', 'master-slave', 'sync-db', 'state-daemon']

export interface NetworkConfig {
  /** One-way latency: lognormal around a LAN median. */
  latencyMedianMs: number
  latencySigma: number
  /** Per-node NIC rate in bytes per ms (1 Gb/s = 125,000 B/ms), both directions. */
  bandwidthBytesPerMs: number
  /** Bytes of framing added to every message. */
  headerBytes: number
  /** Gossipsub mesh degree D: each message is relayed to about D-1 peers by every node. */
  gossipDegree: number
}

export interface NodeModelConfig {
  /** Slot counts drawn uniformly from this list (heterogeneous machines). */
  slotChoices: number[]
  /** CPU speed factor: lognormal around 1, clamped. */
  speedSigma: number
  speedMin: number
  speedMax: number
  /** Executor overhead per task (process IPC, (de)serialisation), at speed 1. */
  taskOverheadMs: number
  /** Owners' background load: fraction of nodes with an owner, mean busy / idle periods, CPU taken while busy. */
  ownerFraction: number
  ownerBusyMeanMs: number
  ownerIdleMeanMs: number
  ownerLoad: number
  /** Owner load above which the node stops accepting new tasks (vector `accepting`). */
  ownerAcceptMax: number
}

export interface ServiceConfig {
  /** Control-plane CPU per message handled by a node (one core, FIFO), in microseconds. */
  vectorUs: number
  taskResultUs: number
  /** Placement scans every worker in the view per assignment (measured ~0.05 us per worker). */
  placementUsPerWorker: number
  assignUs: number
  otherUs: number
  /** Backlog beyond which a node's control plane drops incoming messages. */
  backlogMsMax: number
  /** Shared store (sync-db): per write, per read plus per row returned, and its own backlog bound. */
  storeWriteUs: number
  storeReadUs: number
  storeRowUs: number
  storeBacklogMsMax: number
  /** Gossip relaying cost per message per node (signature check + decode), counted as CPU fraction only. */
  gossipRelayUs: number
}

export interface ProtocolConfig {
  tickMs: number
  publishIntervalMs: number
  suspectAfterMs: number
  deadAfterMs: number
  taskTimeoutMs: number
  /** Backups per p2p job (replica set = 1 + backups). */
  backups: number
  /** Completed results are batched to backups this often. */
  replicationBatchMs: number
  /** Master polls the shared store this often (sync-db). */
  dbPollMs: number
  /** A supervised executor that dies is noticed and restarted by its daemon after this long. */
  executorRestartMs: number
  /** An unsupervised worker process that dies comes back (by hand or a service manager) after this long. */
  workerRestartMs: number
  /** Load changes on a node within this long are reported in one metrics step. */
  loadCoalesceMs: number
  /** Submitter re-sends a job not acknowledged in this long. */
  submitRetryMs: number
  claimTimeoutMs: number
  commitRetryMs: number
  /** A coordinator sends its job's record to the submitter and members this often while it changes. */
  progressIntervalMs: number
  /** A submission no coordinator accepted in this long goes to the next candidate. */
  acceptTimeoutMs: number
  /** A member keeps a finished job's replica this long (then it may be evicted). */
  resultRetentionMs: number
  /** Split and reduce cost at the coordinator: base plus per task. */
  splitBaseMs: number
  splitPerTaskMs: number
  reduceBaseMs: number
  reducePerTaskMs: number
}

export interface ScaleConfig {
  /**
   * Peers whose vectors an observer's real Membership core receives. At N-1 <= this every
   * observer sees everyone (the production behaviour); above it each observer tracks a seeded
   * sample of this many peers plus the peers its roles need. See sim/README.md.
   */
  viewPeersMax: number
  /** Extra nodes that run the Membership core only to measure detection and convergence. */
  probeObservers: number
  /** Observers deliver at most one vector per peer per this many ms (the newest); the rest are counted only. */
  observerDeliveryGapMs: number
  /** Up to this many nodes every node is an observer (full, production-like gossip). */
  allObserveNodesMax: number
}

export interface SimConfig {
  net: NetworkConfig
  node: NodeModelConfig
  service: ServiceConfig
  protocol: ProtocolConfig
  scale: ScaleConfig
  timeMsMax: number
  eventsMax: number
  eventsQueuedMax: number
}

export const DEFAULT_CONFIG: SimConfig = {
  net: { latencyMedianMs: 0.3, latencySigma: 0.5, bandwidthBytesPerMs: 125_000, headerBytes: 64, gossipDegree: 6 },
  node: {
    slotChoices: [2, 4, 4, 8],
    speedSigma: 0.3,
    speedMin: 0.3,
    speedMax: 3,
    taskOverheadMs: 0.4,
    ownerFraction: 0,
    ownerBusyMeanMs: 20_000,
    ownerIdleMeanMs: 40_000,
    ownerLoad: 0.8,
    ownerAcceptMax: 0.5,
  },
  service: {
    vectorUs: 21, // measured: decodeGossip of a 410-byte vector
    taskResultUs: 12,
    placementUsPerWorker: 0.05, // measured: Scheduler.step with 1,000 and 10,000 workers
    assignUs: 4,
    otherUs: 8,
    backlogMsMax: 30_000,
    storeWriteUs: 40,
    storeReadUs: 200,
    storeRowUs: 4,
    storeBacklogMsMax: 30_000,
    gossipRelayUs: 30,
  },
  protocol: {
    tickMs: 100,
    publishIntervalMs: 1000,
    suspectAfterMs: 2500,
    deadAfterMs: 4500,
    taskTimeoutMs: 65_000,
    backups: 2,
    replicationBatchMs: 10,
    dbPollMs: 250,
    executorRestartMs: 200,
    workerRestartMs: 10_000,
    loadCoalesceMs: 100,
    submitRetryMs: 3000,
    claimTimeoutMs: 5000,
    commitRetryMs: 1000,
    progressIntervalMs: 200,
    acceptTimeoutMs: 10_000,
    resultRetentionMs: 3_600_000,
    splitBaseMs: 5,
    splitPerTaskMs: 0.002,
    reduceBaseMs: 5,
    reducePerTaskMs: 0.001,
  },
  scale: { viewPeersMax: 1000, probeObservers: 4, observerDeliveryGapMs: 900, allObserveNodesMax: 50 },
  timeMsMax: 3_600_000,
  eventsMax: 200_000_000,
  eventsQueuedMax: 50_000_000,
}

/** A deep copy of the defaults (runs may tweak their copy). */
export function defaultConfig (): SimConfig {
  return JSON.parse(JSON.stringify(DEFAULT_CONFIG)) as SimConfig
}
