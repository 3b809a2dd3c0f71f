import type { World } from '../world.js'

// The figures of one run, computed from the world once it stops. Everything here is
// simulated (deterministic); wall-clock speed is measured by the caller and kept apart.

export interface RunMetrics {
  arch: string
  nodes: number
  workload: string
  seed: number
  faults: string
  stopReason: string
  jobs: number
  jobsDone: number
  jobsFailed: number
  /** Jobs that never finished (their coordinator died with no backup, or the run stalled). */
  jobsLost: number
  tasks: number
  /** Tasks of lost jobs. */
  tasksLost: number
  /** Tasks of jobs that finished with a result (throughput counts only these). */
  tasksDone: number
  taskExecutions: number
  /** Executions whose result was not used (backups, retries, re-runs after failover, lost, failed jobs). */
  wastedExecutions: number
  makespanS: number
  throughputTasksPerS: number
  utilisation: number
  jobLatencyP50S: number
  jobLatencyP99S: number
  msgsPerNodePerS: number
  msgsBusiestNodePerS: number
  bytesPerNodePerS: number
  bytesBusiestNodePerS: number
  /** Control-plane CPU of the busiest node (fraction of one core; the master's bottleneck). */
  busiestNodeLoad: number
  busiestNode: string
  /** p2p only: CPU a node would spend relaying and checking gossip (fraction of one core). */
  gossipCpuPerNode: number
  detectionMsMean: number
  detections: number
  recoveryMsMean: number
  recoveries: number
  falseSuspicions: number
  controlDrops: number
  resubmissions: number
  simSeconds: number
  events: number
  violations: string[]
  /** Owner policy of the nodes with an owner ('' = the older accept-threshold model). */
  policy: string
  /** Node-seconds during which owners were busy. */
  ownerBusyS: number
  /** Executor CPU-seconds of mesh tasks run while their machine's owner was busy: owner time stolen. */
  ownerStolenCpuS: number
}

export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

function mean (xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length
}

export function summarize (w: World, faults: string): RunMetrics {
  const simMs = Math.max(1, w.sim.nowMs)
  const simS = simMs / 1000
  let jobsDone = 0
  let jobsFailed = 0
  let tasksLost = 0
  let tasks = 0
  let tasksDone = 0
  const latencies: number[] = []
  const recoveries: number[] = []
  let lastFinal = 0
  for (const e of w.ledger.jobs.values()) {
    tasks += e.plan.taskCount
    for (const r of e.recoveriesMs) recoveries.push(r)
    if (e.state === 'done') {
      jobsDone++
      tasksDone += e.plan.taskCount
      latencies.push(((e.finalAtMs ?? 0) - e.submittedAtMs) / 1000)
      lastFinal = Math.max(lastFinal, e.finalAtMs ?? 0)
    } else if (e.state === 'failed') {
      jobsFailed++
      lastFinal = Math.max(lastFinal, e.finalAtMs ?? 0)
    } else {
      tasksLost += e.plan.taskCount
    }
  }
  latencies.sort((a, b) => a - b)
  const jobsLost = w.ledger.jobs.size - jobsDone - jobsFailed
  const makespanMs = (jobsLost === 0 ? lastFinal : simMs) - w.firstSubmitMs
  const makespanS = Math.max(1e-9, makespanMs / 1000)
  let slotMs = 0
  let busyMs = 0
  for (const node of w.nodes) {
    slotMs += node.slots
    busyMs += node.slotBusyMs
  }
  const gossipPerNode = w.arch.transport === 'gossip' ? w.gossip.publishes * w.gossip.perNodeCopies : 0
  const gossipBytesPerNode = w.arch.transport === 'gossip' ? w.gossip.publishBytes * w.gossip.perNodeCopies : 0
  let msgs = 0
  let bytes = 0
  let msgsMax = 0
  let bytesMax = 0
  const n = w.nodes.length
  for (let i = 0; i < n; i++) {
    const m = (w.net.msgsOut[i] as number) + (w.net.msgsIn[i] as number) + gossipPerNode
    const b = (w.net.bytesOut[i] as number) + (w.net.bytesIn[i] as number) + gossipBytesPerNode
    msgs += m
    bytes += b
    msgsMax = Math.max(msgsMax, m)
    bytesMax = Math.max(bytesMax, b)
  }
  let busiest = { load: 0, id: '-' }
  for (const node of w.nodes) {
    const load = node.cpu.busyUs / 1000 / simMs
    if (load > busiest.load) busiest = { load, id: node.id }
  }
  if (w.store !== undefined) {
    const load = w.store.cpu.busyUs / 1000 / simMs
    if (load > busiest.load) busiest = { load, id: 'store' }
  }
  let controlDrops = w.store?.cpu.dropped ?? 0
  for (const node of w.nodes) controlDrops += node.cpu.dropped
  const gossipCpu = w.arch.transport === 'gossip' ? w.gossip.publishes * w.gossip.perNodeCopies / 2 * w.cfg.service.gossipRelayUs / 1000 / simMs : 0
  let ownerBusyMs = 0
  let stolenMs = 0
  for (const node of w.nodes) {
    if (w.ownerOn[node.index] !== 1) continue
    w.accountOwner(node)
    ownerBusyMs += node.ownerBusyMs
    stolenMs += node.stolenMs
  }
  return {
    arch: w.spec.ownerPolicy !== undefined ? `${w.arch.name}/${w.spec.ownerPolicy}` : w.arch.name,
    nodes: n,
    workload: w.workload.name,
    seed: w.seed,
    faults,
    stopReason: w.stopReason,
    jobs: w.ledger.jobs.size,
    jobsDone,
    jobsFailed,
    jobsLost,
    tasks,
    tasksLost,
    tasksDone,
    taskExecutions: w.metrics.taskExecutions,
    wastedExecutions: Math.max(0, w.metrics.taskExecutions - tasksDone),
    makespanS,
    throughputTasksPerS: tasksDone / makespanS,
    utilisation: slotMs > 0 ? busyMs / (slotMs * makespanMs) : 0,
    jobLatencyP50S: quantile(latencies, 0.5),
    jobLatencyP99S: quantile(latencies, 0.99),
    msgsPerNodePerS: msgs / n / simS,
    msgsBusiestNodePerS: msgsMax / simS,
    bytesPerNodePerS: bytes / n / simS,
    bytesBusiestNodePerS: bytesMax / simS,
    busiestNodeLoad: busiest.load,
    busiestNode: busiest.id,
    gossipCpuPerNode: gossipCpu,
    detectionMsMean: mean(w.metrics.detectionMs),
    detections: w.metrics.detectionMs.length,
    recoveryMsMean: mean(recoveries),
    recoveries: recoveries.length,
    falseSuspicions: w.metrics.falseSuspicions,
    controlDrops,
    resubmissions: w.metrics.resubmissions,
    simSeconds: simS,
    events: w.sim.eventsRun,
    violations: [...w.ledger.violations],
    policy: w.spec.ownerPolicy ?? '',
    ownerBusyS: ownerBusyMs / 1000,
    ownerStolenCpuS: stolenMs / 1000,
  }
}
