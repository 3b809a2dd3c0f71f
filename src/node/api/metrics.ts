import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ApiServer } from './api-server.js'

// `GET /metrics`: the node in Prometheus text, for a scraper to keep what the dashboard shows
// only live. One registry per node (prom-client's global one would mix the nodes of one
// process). What the node already counts (its state vector, the registry, the pool, the
// worker core) is read at scrape time, so nothing costs a task anything; only the outcome of
// each executor call is counted as it happens, on a label child bound once per outcome.

/** What the metrics read from the node at scrape time. */
export interface MetricsSource {
  selfId: string
  version: string
  uptimeMs: () => number
  /** Every node as this one sees it, itself included. */
  peers: () => Array<{ status: string }>
  /** This node's own state vector. */
  self: () => { slotsTotal: number, slotsFree: number, runningTasks: number, cpuLoad: number, ownerCpuLoad: number, memFree: number, memTotal: number, diskFree: number, accepting: boolean, draining?: boolean } | undefined
  /** The jobs the node's registry holds. */
  jobs: () => Array<{ state: string }>
  historyJobs: () => number
  coordinating: () => number
  executors: () => { slotsBusy: number, slotsReady: number, spares: number, queued: number, started: number, died: number, killed: Record<string, number> }
  tasksReturned: () => number
  rpcDropped: () => number
}

export const PEER_STATUSES = ['alive', 'suspect', 'dead', 'left'] as const
export const JOB_STATES = ['pending', 'splitting', 'running', 'reducing', 'done', 'failed', 'cancelled'] as const
/** Executor-call durations: from a tiny task's microseconds to a long build's minutes. */
const DURATION_BUCKETS_S = [0.0001, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60, 300]
/** Job wall times: from a few tasks on warm executors to a night's batch. */
const WALL_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14_400]
/** Kill reasons of the executor pool (ExecutorPool.replace). */
const KILL_REASONS = ['timeout', 'abort', 'cpu', 'memory', 'protocol'] as const

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly jobsFinished: Counter<'state'>
  private readonly jobWall: Histogram<'state'>
  private readonly tasks: Counter<'outcome'>
  private readonly attemptSeconds: Histogram<'outcome'>
  private readonly gossipDropped: Counter
  private readonly vectorsReceived: Counter
  private readonly peerChanges: Counter<'status'>
  /** Label children by outcome, bound once (a label lookup per task shows under tiny tasks). */
  private readonly attemptChildren = new Map<string, { tasks: { inc: (n?: number) => void }, seconds: { observe: (v: number) => void } }>()

  constructor (src: MetricsSource) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    new Gauge({ name: 'meshwork_node_info', help: 'This node: its peer id and software version (always 1)', labelNames: ['peer_id', 'version'], registers })
      .set({ peer_id: src.selfId, version: src.version }, 1)
    new Gauge({ name: 'meshwork_uptime_seconds', help: 'Time since the node started', registers, collect () { this.set(src.uptimeMs() / 1000) } })
    new Gauge({
      name: 'meshwork_peers', help: 'Nodes of the mesh by status as this node sees them, itself included', labelNames: ['status'], registers,
      collect () {
        const counts = countBy(src.peers(), p => p.status, PEER_STATUSES)
        for (const [status, n] of counts) this.set({ status }, n)
      },
    })
    const selfGauge = (name: string, help: string, read: (v: NonNullable<ReturnType<MetricsSource['self']>>) => number): void => {
      new Gauge({ name, help, registers, collect () { const v = src.self(); if (v !== undefined) this.set(read(v)) } })
    }
    selfGauge('meshwork_slots_total', 'Task slots this node offers', v => v.slotsTotal)
    selfGauge('meshwork_slots_free', 'Task slots free on this node', v => v.slotsFree)
    selfGauge('meshwork_tasks_running', 'Tasks running on this node', v => v.runningTasks)
    selfGauge('meshwork_cpu_load_ratio', 'CPU load of the whole machine (0-1)', v => v.cpuLoad)
    selfGauge('meshwork_owner_cpu_load_ratio', "CPU load of the machine's owner, Meshwork's own processes left out (0-1)", v => v.ownerCpuLoad)
    selfGauge('meshwork_memory_free_bytes', 'Free memory of the machine', v => v.memFree)
    selfGauge('meshwork_memory_total_bytes', 'Memory of the machine', v => v.memTotal)
    selfGauge('meshwork_disk_free_bytes', 'Free disk of the data dir', v => v.diskFree)
    selfGauge('meshwork_accepting', '1 while the node takes tasks, 0 while it yields to its owner or drains', v => v.accepting ? 1 : 0)
    selfGauge('meshwork_draining', '1 during `meshwork drain`', v => v.draining === true ? 1 : 0)
    new Gauge({
      name: 'meshwork_jobs', help: 'Jobs this node knows (its registry), by state', labelNames: ['state'], registers,
      collect () {
        for (const [state, n] of countBy(src.jobs(), j => j.state, JOB_STATES)) this.set({ state }, n)
      },
    })
    new Gauge({ name: 'meshwork_jobs_history', help: 'Finished jobs kept in the history (`meshwork jobs --all`)', registers, collect () { this.set(src.historyJobs()) } })
    new Gauge({ name: 'meshwork_jobs_coordinating', help: 'Jobs this node coordinates now', registers, collect () { this.set(src.coordinating()) } })
    new Gauge({
      name: 'meshwork_executors', help: 'Executor processes by state: busy and ready slots, idle ones kept for their code', labelNames: ['state'], registers,
      collect () {
        const s = src.executors()
        this.set({ state: 'busy' }, s.slotsBusy)
        this.set({ state: 'ready' }, s.slotsReady)
        this.set({ state: 'idle_kept' }, s.spares)
      },
    })
    new Gauge({ name: 'meshwork_executor_queue', help: 'Calls waiting for an executor', registers, collect () { this.set(src.executors().queued) } })
    cumulative(registers, 'meshwork_executor_starts_total', 'Executor processes started', () => src.executors().started)
    cumulative(registers, 'meshwork_executor_crashes_total', 'Executors that died by themselves (a crash, the OOM killer), not killed by the node', () => src.executors().died)
    new Counter({
      name: 'meshwork_executor_kills_total', help: 'Executors the node killed and replaced, by reason: a task over its time (timeout), CPU or memory limit, a cancelled or superseded task (abort), a malformed message (protocol)', labelNames: ['reason'], registers,
      collect () {
        this.reset()
        const killed = src.executors().killed
        for (const reason of new Set([...KILL_REASONS, ...Object.keys(killed)])) this.inc({ reason }, killed[reason] ?? 0)
      },
    })
    cumulative(registers, 'meshwork_worker_tasks_returned_total', 'Tasks this node handed back (owner busy, drain, stop): placed elsewhere, not failures', src.tasksReturned)
    cumulative(registers, 'meshwork_rpc_dropped_total', 'Direct messages from peers dropped (malformed or refused)', src.rpcDropped)
    this.jobsFinished = new Counter({ name: 'meshwork_jobs_finished_total', help: 'Jobs seen finishing by this node, by final state', labelNames: ['state'], registers })
    for (const state of ['done', 'failed', 'cancelled']) this.jobsFinished.inc({ state }, 0)
    this.jobWall = new Histogram({ name: 'meshwork_job_wall_seconds', help: 'Wall time of the jobs seen finishing by this node, submission to final state, by final state', labelNames: ['state'], buckets: WALL_BUCKETS_S, registers })
    this.tasks = new Counter({ name: 'meshwork_worker_tasks_total', help: 'Tasks this node ran as a worker, by outcome: ok, or the failure kind (threw, timeout, exited, oom, protocol, denied, …)', labelNames: ['outcome'], registers })
    this.tasks.inc({ outcome: 'ok' }, 0)
    this.attemptSeconds = new Histogram({ name: 'meshwork_worker_attempt_duration_seconds', help: 'Time an executor call for a task attempt took on this node (one call per group of tiny tasks), by outcome', labelNames: ['outcome'], buckets: DURATION_BUCKETS_S, registers })
    this.vectorsReceived = new Counter({ name: 'meshwork_gossip_vectors_received_total', help: 'State vectors received by gossip (signed messages on the membership topic)', registers })
    this.gossipDropped = new Counter({ name: 'meshwork_gossip_dropped_total', help: 'Gossip messages dropped (malformed, or a vector not signed by its peer)', registers })
    this.peerChanges = new Counter({ name: 'meshwork_peer_status_changes_total', help: 'Peers this node saw change status, by the status they changed to', labelNames: ['status'], registers })
  }

  /** A job finished, as first seen here. */
  jobFinished (state: string, wallMs: number | undefined): void {
    this.jobsFinished.inc({ state })
    if (wallMs !== undefined && wallMs >= 0) this.jobWall.observe({ state }, wallMs / 1000)
  }

  /** One executor call for a task attempt of `tasks` tasks ended (`outcome`: ok or the failure kind). */
  attempt (outcome: string, durationMs: number, tasks = 1): void {
    // Kinds come from a fixed list; a cap on the label values all the same.
    if (this.attemptChildren.size >= 64 && !this.attemptChildren.has(outcome)) outcome = 'other'
    let child = this.attemptChildren.get(outcome)
    if (child === undefined) {
      child = { tasks: this.tasks.labels(outcome), seconds: this.attemptSeconds.labels(outcome) }
      this.attemptChildren.set(outcome, child)
    }
    child.tasks.inc(tasks)
    child.seconds.observe(durationMs / 1000)
  }

  gossipMessageDropped (): void { this.gossipDropped.inc() }

  vectorReceived (): void { this.vectorsReceived.inc() }

  peerStatusChanged (status: string): void { this.peerChanges.inc({ status }) }

  async text (): Promise<string> { return await this.registry.metrics() }
}

/** `GET /metrics` in the Prometheus text format; the token is required like everywhere else. */
export function registerMetricsRoute (api: ApiServer, metrics: NodeMetrics): void {
  api.route('GET', '/metrics', async req => {
    const body = await metrics.text()
    req.res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
    req.res.end(body)
    return undefined
  })
}

/** A counter whose value the node already keeps: read at scrape time. */
function cumulative (registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
}

/** Counts by key, every key of `known` present (0 when none). */
function countBy<T> (items: T[], key: (item: T) => string, known: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(known.map(k => [k, 0]))
  for (const item of items) { const k = key(item); counts.set(k, (counts.get(k) ?? 0) + 1) }
  return counts
}
