import { performance } from 'node:perf_hooks'
import { randomBytes, randomInt } from 'node:crypto'
import { cpus, platform, arch } from 'node:os'
import { join } from 'node:path'
import { backupsFor, type ElectionStrategy, type Member } from '../../election/strategy.js'
import { isRouted, routeMessage, type NodeRoles } from '../../jobs/message-routes.js'
import { FINAL_STATES, type JobRecord } from '../../jobs/job-spec.js'
import { ExecutorPool } from '../executor/executor-pool.js'
import type { SchedulerConfig, WorkerView } from '../../jobs/scheduler.js'
import type { Yielding } from '../../jobs/waiting.js'
import { decodeRpc, encodeRpc, type RpcMessage } from '../../jobs/wire.js'
import { seededRandom } from '../../util/prng.js'
import { CodeCache } from './code-cache.js'
import { JobCoordinator } from './job-coordinator.js'
import { JobRegistry } from './job-registry.js'
import { DEFAULT_HISTORY_MAX, HISTORY_FILE, JobHistory } from './job-history.js'
import { ReplicaStore } from './job-replicas.js'
import { corkingProtector } from '../net/socket-corking.js'
import { JobSubmissions } from './job-submissions.js'
import { registerJobRoutes } from '../api/jobs-api.js'
import { Channels } from '../net/rpc/channels.js'
import { isBatched, TaskBatcher, unbatch } from '../net/rpc/task-batches.js'
import { TaskWorker } from './task-worker.js'
import { BlobStore } from '../data/blob-store.js'
import { BlobProtocol } from '../data/blob-protocol.js'
import { SharedFiles, SplitReader } from '../data/split-reader.js'
import { dialPeer } from '../net/dial.js'
import { DEFAULT_BLOB_BYTES_MAX, registerBlobRoutes } from '../api/blobs-api.js'
import { DEFAULT_SCRATCH_RETENTION_MS, ScratchSweeper } from './scratch-sweeper.js'
import { Membership, type MembershipEffect } from '../../gossip/membership.js'
import { MEMBERSHIP_TOPIC } from '../../gossip/messages.js'
import type { MembershipConfig } from '../../gossip/config.js'
import type { LocalMetrics } from '../../gossip/state-vector.js'
import { SOFTWARE_VERSION } from '../../version.js'
import { ApiServer } from '../api/api-server.js'
import { Connectivity } from '../net/connectivity.js'
import { ensureDataDir, removeApiRecord, writeApiRecord } from '../host/data-dir.js'
import { loadOrCreatePeerKey } from '../host/identity.js'
import { createMeshLibp2p, type MeshLibp2p } from '../net/libp2p.js'
import { meshKeyProtector } from '../../security/mesh-key.js'
import { securityOptions, type SecurityOptions } from '../../security/limits.js'
import type { Logger } from '../host/logger.js'
import { HostProbe, type HostSample } from '../host/probe.js'
import { statusView, type StatusView } from '../cli/status-view.js'
import { registerDashboardRoutes } from '../api/dashboard/routes.js'
import { EventsStream } from '../api/events-stream.js'
import { NodeMetrics, registerMetricsRoute } from '../api/metrics.js'
import { TimelineService } from './timeline-service.js'
import { LogsService } from './logs-service.js'
import { DEFAULT_OWNER_POLICY, type OwnerPolicyConfig } from '../../jobs/owner-policy.js'
import { DEFAULT_TOOLS, findTools } from '../host/capabilities.js'
import { Drainer } from './drain.js'
import { OwnerGuard } from '../host/owner-guard.js'

// The daemon binds the pure cores to libp2p, the OS and the control API.

export interface DaemonOptions {
  dataDir: string
  /** The node's name for people, in its state vector (`--name`; none: the vector carries none). */
  name?: string
  host: string
  port: number
  apiPort: number
  slots: number
  bootstrap: string[]
  mdns: boolean
  mdnsServiceTag: string
  labels: Record<string, string>
  membership: Partial<MembershipConfig>
  election: ElectionStrategy
  scheduler: Partial<SchedulerConfig>
  taskTimeoutMs: number
  memoryLimitMB: number
  /** Idle executors kept for their code's next job (default: twice the slots). */
  idleExecutors?: number
  resultRetentionMs: number
  /** A job's scratch dir (and an input blob) untouched this long is removed (0: never; default 7 days). */
  scratchRetentionMs?: number
  /** Largest input file one upload may store here (default 64 GiB). */
  blobBytesMax?: number
  /** Directories whose files jobs may give as shared input (`--shared-dir`): read here, in place. */
  sharedDirs?: string[]
  /** Finished jobs kept in DATA_DIR/jobs-history.jsonl for `meshwork jobs --all` (0: none; default 10,000). */
  historyMax?: number
  /** ... and at most this many bytes of it (default 32 MiB). */
  historyBytesMax?: number
  /** Backups per job that hold its task table and results (the replica set is 1 + this). */
  backups: number
  rpcFrameBytesMax: number
  log: Logger
  /** Owner policy (default desktop) and the executors' CPU cap (fraction of the machine). */
  owner?: { policy: OwnerPolicyConfig, maxCpu?: number }
  /** Commands looked for on PATH and advertised as `tools` (default DEFAULT_TOOLS). */
  tools?: readonly string[]
  /** Drain: running tasks are handed back after this long (default 60 s). */
  drainTimeoutMs?: number
  /** Called once the node has left after `drain` (the CLI exits). */
  onLeft?: () => void
  /** The mesh key (pnet pre-shared key); undefined only for an --insecure-open-mesh. */
  meshKey?: Uint8Array
  /** The control API requires this bearer token (undefined: no token, for embedding in tests only). */
  apiToken?: string
  /** Admission, sandbox and limits (see src/security/limits.ts); defaults when absent. */
  security?: Partial<SecurityOptions>
}

const TICK_MS = 100
/** Old scratch dirs are looked for this often, the first time a minute after start. */
const SCRATCH_SWEEP_MS = 3_600_000
const SCRATCH_FIRST_SWEEP_MS = 60_000
/** An unfinished job not heard of this long is looked up in the mesh. */
const STALE_RECORD_MS = 5000
const PROBE_MS = 1000
const MAINTAIN_MS = 2000
const LOAD_CHANGE_MS = 20

export class Daemon {
  private readonly timers: NodeJS.Timeout[] = []
  private stopping: Promise<void> | undefined
  private lastHost: HostSample | undefined
  private addrs: string[] = []
  /** The last message encoded by send(), kept until another is sent. */
  private lastEncoded: { message: RpcMessage, bytes: Uint8Array } | undefined
  private loadChangeScheduled = false
  readonly startedAtMs = Date.now()
  readonly pool: ExecutorPool
  readonly registry: JobRegistry
  readonly history: JobHistory
  /** Built once the node knows its peer id and everything it reads (wire()). */
  metrics: NodeMetrics | undefined
  readonly worker: TaskWorker
  readonly coordinator: JobCoordinator
  readonly replicas: ReplicaStore
  readonly submissions: JobSubmissions
  readonly timelines: TimelineService
  readonly logs: LogsService
  readonly guard: OwnerGuard
  readonly drainer: Drainer
  /** Input files held here, served to peers, and read in splits by this node's tasks. */
  readonly blobs: BlobStore
  private readonly blobProtocol: BlobProtocol
  readonly splits: SplitReader
  private readonly tools: string[]
  private readonly channels: Channels
  /** Tasks and results to each peer, one batch per job and turn. */
  private readonly batches: TaskBatcher
  /** Outstanding `job.query` broadcasts: jobId → resolvers waiting for a `job.found`. */
  private readonly queries = new Map<string, Array<(record: JobRecord) => void>>()
  rpcDropped = 0
  readonly security: SecurityOptions

  private constructor (
    readonly opts: DaemonOptions,
    readonly node: MeshLibp2p,
    readonly membership: Membership,
    readonly api: ApiServer,
    private readonly probe: HostProbe,
    private readonly connectivity: Connectivity,
    public apiUrl: string,
  ) {
    const selfId = node.peerId.toString()
    const log = opts.log
    const sec = this.security = securityOptions(opts.security)
    this.pool = new ExecutorPool({
      slots: Math.max(1, opts.slots), taskTimeoutMs: opts.taskTimeoutMs, memoryLimitMB: opts.memoryLimitMB, logger: log,
      ...(opts.idleExecutors !== undefined ? { sparesMax: opts.idleExecutors } : {}),
      sandbox: sec.sandbox, taskCpuMsMax: sec.taskCpuMsMax, resultBytesMax: sec.resultBytesMax,
      // A split's chunks travel in job.replica: the message limit bounds them (less room for the rest of the message).
      splitBytesMax: Math.max(sec.resultBytesMax ?? 0, opts.rpcFrameBytesMax - 1024 * 1024),
    })
    const code = new CodeCache(join(opts.dataDir, 'code'))
    const history = this.history = new JobHistory({ file: join(opts.dataDir, HISTORY_FILE), jobsMax: opts.historyMax ?? DEFAULT_HISTORY_MAX, ...(opts.historyBytesMax !== undefined ? { bytesMax: opts.historyBytesMax } : {}), log })
    this.registry = new JobRegistry({
      retentionMs: opts.resultRetentionMs, recordsMax: 10_000,
      onFinal: (record, first) => {
        history.record(record)
        if (first) this.metrics?.jobFinished(record.state, record.wallMs)
      },
    })
    this.channels = new Channels(node, {
      frameBytesMax: opts.rpcFrameBytesMax,
      log,
      onFrame: (from, payload) => this.onFrame(from, payload),
      onUnreachable: (peerId) => this.coordinator.onUnreachable(peerId),
      addrsOf: peerId => this.membership.peer(peerId)?.vector.addrs ?? [],
      beforeFlush: () => this.batches.flush(),
    })
    const channels = this.channels
    this.batches = new TaskBatcher((peerId, bytes) => channels.send(peerId, bytes), () => channels.wake())
    const send = (peerId: string, message: RpcMessage): number => this.send(peerId, message)
    // Advertise only tools a task may really run here: in the sandbox, those --allow-exec names
    // (looked for on PATH even when --tools does not list them: allowing one means offering it).
    const wanted = [...new Set([...(opts.tools ?? DEFAULT_TOOLS), ...(sec.sandbox?.allowExec ?? [])])]
    const found = findTools(wanted)
    this.tools = sec.sandbox === undefined ? found : found.filter(t => sec.sandbox!.allowExec.includes(t))
    this.guard = new OwnerGuard({
      policy: opts.owner?.policy ?? DEFAULT_OWNER_POLICY.desktop,
      maxCpu: opts.owner?.maxCpu,
      executors: { pause: () => this.pool.pause(), resume: () => this.pool.resume(), pids: () => this.pool.stats().pids },
      giveBack: () => { this.worker.giveBack() },
      onChange: () => this.onLoadChange(),
      log,
      nowMs: now,
      minuteOfDay: () => { const d = new Date(); return d.getHours() * 60 + d.getMinutes() },
    })
    this.blobs = new BlobStore(join(opts.dataDir, 'blobs'))
    this.blobProtocol = new BlobProtocol(node, this.blobs, async (peerId, protocol, signal) => await dialPeer(node, peerId, protocol, this.membership.peer(peerId)?.vector.addrs ?? [], signal), log)
    this.splits = new SplitReader(selfId, this.blobs, this.blobProtocol, new SharedFiles(opts.sharedDirs ?? []))
    this.worker = new TaskWorker({
      selfId, pool: this.pool, code, scratchDir: join(opts.dataDir, 'scratch'), log, send, onLoadChange: () => this.onLoadChange(), accepting: () => this.guard.accepting,
      inputs: this.splits,
      onOutcome: (outcome, durationMs, tasks) => this.metrics?.attempt(outcome, durationMs, tasks),
    })
    const isAlive = (peerId: string): boolean => this.statusOf(peerId) === 'alive'
    // The boot of a live peer: a peer that restarted since (same id, new boot) lost its jobs.
    const liveBoot = (peerId: string): string | undefined => {
      if (peerId === selfId) return BOOT_ID
      return this.membership.liveBoot(peerId)
    }
    this.replicas = new ReplicaStore({
      selfId, code, log, send, liveBoot, nowMs: now, retentionMs: opts.resultRetentionMs,
      alivePeers: () => this.membership.activePeerIds(),
      coordinates: jobId => this.coordinator.coordinates(jobId),
      takeOver: data => this.coordinator.adopt(data),
      yieldJob: (jobId, term) => this.coordinator.yieldJob(jobId, term), // onYielded then learns its outcome
      onRecord: record => this.registry.upsert(record, Date.now()),
      onCancelled: (jobId, record) => this.onCancelled(jobId, record),
    })
    this.coordinator = new JobCoordinator({
      selfId, pool: this.pool, code, replicas: this.replicas, scheduler: { taskTimeoutMs: opts.taskTimeoutMs + 5000, ...opts.scheduler }, random: seededRandom(randomInt(2 ** 31)), log, send,
      workers: () => this.workerViews(),
      onYielded: jobId => this.learnOutcome(jobId),
      holdsRecord: jobId => this.registry.get(jobId) !== undefined,
      tasksPerJobMax: sec.tasksPerJobMax,
      backupsFor: jobId => backupsFor(opts.election, jobId, this.members(), opts.backups + 1).filter(p => p !== selfId).slice(0, opts.backups),
      onRecord: record => {
        this.registry.upsert(record, Date.now())
        this.replicas.noteRecord(record) // a final record settles our own copy too
      },
      nowMs: now,
      wallMs: () => Date.now(),
      scratchDirFor: (jobId, codeHash) => this.worker.scratchDirFor(jobId, codeHash),
      inputs: this.splits,
    })
    this.submissions = new JobSubmissions({
      send, log, liveBoot,
      record: jobId => this.registry.get(jobId),
      reassigned: (jobId, coordinator, term) => {
        const r = this.registry.get(jobId)
        if (r !== undefined) this.registry.upsert({ ...r, coordinator, term }, Date.now())
      },
      rank: jobId => opts.election.rank(jobId, this.members()),
      nowMs: now,
    })
    this.timelines = new TimelineService({
      selfId, send, local: jobId => this.coordinator.timeline(jobId), record: jobId => this.registry.get(jobId), query: async jobId => await this.queryJob(jobId),
    })
    this.logs = new LogsService({
      selfId, send, local: (jobId, after) => this.coordinator.logsOf(jobId, after), record: jobId => this.registry.get(jobId), query: async jobId => await this.queryJob(jobId),
    })
    this.drainer = new Drainer({
      selfId, guard: this.guard, worker: this.worker, coordinator: this.coordinator, log, nowMs: now,
      isAlive: peerId => this.statusOf(peerId) === 'alive',
      leave: async () => await this.stop(),
      timeoutMs: opts.drainTimeoutMs ?? 60_000,
      ...(opts.onLeft !== undefined ? { onLeft: opts.onLeft } : {}),
    })
  }

  static async start (opts: DaemonOptions): Promise<Daemon> {
    ensureDataDir(opts.dataDir)
    const privateKey = await loadOrCreatePeerKey(opts.dataDir)
    const meshKey = opts.meshKey !== undefined ? meshKeyProtector(opts.meshKey) : undefined
    const connectionProtector = corkingProtector(meshKey)
    const node = await createMeshLibp2p({ privateKey, host: opts.host, port: opts.port, mdns: opts.mdns, mdnsServiceTag: opts.mdnsServiceTag, connectionProtector })
    const probe = new HostProbe(opts.dataDir, now())
    const api = new ApiServer({ port: opts.apiPort, bodyBytesMax: 1024 * 1024, log: opts.log, token: opts.apiToken })
    let apiUrl: string
    try {
      apiUrl = await api.listen()
    } catch (err) {
      await node.stop()
      throw new Error(`Could not open the control API on 127.0.0.1:${opts.apiPort}: ${(err as Error).message}`)
    }
    // The incarnation starts at the wall-clock start time so a restarted node supersedes its old vectors.
    const membership = new Membership({ peerId: node.peerId.toString(), incarnation: Date.now(), metrics: emptyMetrics(opts) }, opts.membership)
    const connectivity = new Connectivity(node, opts.bootstrap, opts.log)
    const daemon = new Daemon(opts, node, membership, api, probe, connectivity, apiUrl)
    await daemon.channels.start()
    await daemon.blobProtocol.start()
    daemon.wire()
    writeApiRecord(opts.dataDir, { url: apiUrl, pid: process.pid, peerId: node.peerId.toString() })
    return daemon
  }

  get peerId (): string { return this.node.peerId.toString() }

  /** Membership as the election and the scheduler see it. */
  members (): Member[] {
    // A draining node is neither elected coordinator nor chosen as a backup of new jobs.
    return this.membership.peers().map(p => ({ peerId: p.vector.peerId, slotsTotal: p.vector.slotsTotal, status: p.vector.draining === true ? 'left' : p.status }))
  }

  workerViews (): WorkerView[] {
    return this.membership.peers().map(p => ({
      peerId: p.vector.peerId, slotsTotal: p.vector.slotsTotal, slotsFree: p.vector.slotsFree, cpuLoad: p.vector.cpuLoad,
      memFree: p.vector.memFree, accepting: p.vector.accepting && p.vector.slotsTotal > 0, status: p.status,
      ownerCpuLoad: p.vector.ownerCpuLoad, ...(p.vector.yielding !== undefined ? { yielding: p.vector.yielding } : {}),
      caps: { tools: p.vector.tools, labels: p.vector.labels, memTotal: p.vector.memTotal, cpuCores: p.vector.cpuCores, ...(p.vector.network === true ? { network: true } : {}), ...(p.vector.unboxed === true ? { unboxed: true } : {}) },
    }))
  }

  /** A job yielded to a higher term: its record comes from the node that holds it now. */
  private learnOutcome (jobId: string): void {
    void this.queryJob(jobId).then(record => { if (record !== undefined) this.registry.upsert(record, Date.now()) })
  }

  private statusOf (peerId: string): string | undefined {
    return peerId === this.peerId ? 'alive' : this.membership.peer(peerId)?.status
  }

  /**
   * Ask every live peer about a job. A final record ends the question at once; otherwise the
   * record of the highest term heard before the timeout wins (a stale peer may still hold an
   * old term's running record, so the first answer is not good enough).
   */
  async queryJob (jobId: string, timeoutMs = 3000): Promise<JobRecord | undefined> {
    const peers = this.membership.peers().slice(1).filter(p => p.status === 'alive').map(p => p.vector.peerId)
    if (peers.length === 0) return undefined
    return await new Promise(resolve => {
      let best: JobRecord | undefined
      let answers = 0
      const waiters = this.queries.get(jobId) ?? []
      this.queries.set(jobId, waiters)
      const timer = setTimeout(() => done(), timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        const list = this.queries.get(jobId)
        const i = list?.indexOf(onFound) ?? -1
        if (list !== undefined && i >= 0) list.splice(i, 1)
        if (list?.length === 0) this.queries.delete(jobId)
        resolve(best)
      }
      const onFound = (record: JobRecord): void => {
        answers++
        if (best === undefined || record.term > best.term || (record.term === best.term && FINAL_STATES.has(record.state))) best = record
        if (FINAL_STATES.has(record.state) || answers >= peers.length) done()
      }
      waiters.push(onFound)
      for (const p of peers) this.send(p, { t: 'job.query', jobId })
    })
  }

  /**
   * Records of unfinished jobs this node does not coordinate and has heard nothing of for a
   * while (the submitter's copy, an ex-coordinator's) are refreshed from the mesh: updates sent
   * across a partition, or by a coordinator that died, are lost, and nobody sends them again.
   */
  private refreshStaleRecords (): void {
    const nowMs = Date.now()
    for (const record of this.registry.stale(nowMs, STALE_RECORD_MS)) {
      if (this.coordinator.coordinates(record.jobId) || this.queries.has(record.jobId)) continue
      this.registry.touch(record.jobId, nowMs)
      void this.queryJob(record.jobId).then(found => { if (found !== undefined) this.registry.upsert(found, Date.now()) })
    }
  }

  /**
   * Queues a message for a peer; returns its encoded size (0 when it is for this node: messages
   * to ourselves skip the network and the encoding, but keep the same async order).
   */
  send (peerId: string, message: RpcMessage): number {
    if (peerId === this.peerId) {
      setImmediate(() => this.onRpc(peerId, message))
      return 0
    }
    if (isBatched(message)) return this.batches.add(peerId, message)
    // Anything else to this peer leaves after the tasks and results sent to it before.
    this.batches.flushPeer(peerId)
    // The same message object sent to several peers in a row (a replica to each backup, a
    // takeover to everyone) is encoded once: a replica can be hundreds of MB of JSON.
    if (this.lastEncoded?.message !== message) this.lastEncoded = { message, bytes: encodeRpc(message) }
    const bytes = this.lastEncoded.bytes
    this.channels.send(peerId, bytes)
    return bytes.byteLength
  }

  private onFrame (from: string, payload: Buffer): void {
    const decoded = decodeRpc(payload)
    if (!decoded.ok) {
      this.rpcDropped++
      this.opts.log.warn({ from, reason: decoded.reason }, 'dropped rpc message')
      return
    }
    for (const message of unbatch(decoded.message)) this.onRpc(from, message)
  }

  /** The node's roles as the message table (src/jobs/message-routes.ts) addresses them. */
  private readonly roles: NodeRoles<string> = {
    drop: (from, reason) => this.dropRpc(from, reason),
    worker: {
      assign: (from, m) => this.worker.onAssign(from, m),
      abort: (from, attemptId) => this.worker.onAbort(from, attemptId),
      takeover: (jobId, term, coordinator) => this.worker.onTakeover(jobId, term, coordinator),
      prepare: m => this.worker.onPrepare(m),
      code: (from, hash, code) => { void this.worker.onCode(from, hash, code) },
    },
    coordinator: {
      taskResult: (from, m) => this.coordinator.onTaskResult(from, m),
      replicaAck: (from, m) => this.coordinator.onReplicaAck(from, m),
      confirmReply: (from, m) => this.coordinator.onConfirmReply(from, m),
      commitReply: (from, m) => this.coordinator.onCommitReply(from, m),
      codeRequest: (from, hash) => this.coordinator.onCodeRequest(from, hash),
    },
    replicas: {
      record: (from, record) => {
        this.registry.upsert(record, Date.now())
        this.replicas.noteRecord(record, from)
      },
      replica: (from, m) => {
        if (this.security.allowSubmit !== undefined && !this.security.allowSubmit.has(m.spec.submitter)) return this.dropRpc(from, `job.replica of a job submitted by ${m.spec.submitter}, who is not in --allow-submit`)
        void this.replicas.onReplica(from, m)
      },
      progress: (from, m) => this.replicas.onProgress(from, m),
      claim: (from, m) => this.replicas.onClaim(from, m),
      claimReply: (from, m) => this.replicas.onClaimReply(from, m),
      confirm: (from, m) => this.replicas.onConfirm(from, m),
      commit: (from, m) => this.replicas.onCommit(from, m),
      takeover: (from, m) => {
        this.replicas.onTakeover(from, m)
        if (m.coordinator !== from) return
        const r = this.registry.get(m.jobId)
        if (r !== undefined && !FINAL_STATES.has(r.state)) this.registry.upsert({ ...r, coordinator: m.coordinator, term: m.term }, Date.now())
      },
      cancel: (from, m) => this.replicas.onCancel(from, m), // a tombstone; onCancelled stops the job here
      cancelAck: (from, m) => this.replicas.onCancelAck(from, m),
      handover: (from, m) => this.replicas.onHandover(from, m),
    },
  }

  private onRpc (from: string, m: RpcMessage): void {
    if (isRouted(m)) return routeMessage(this.roles, from, from, m)
    switch (m.t) {
      case 'job.submit': {
        if (m.spec.submitter !== from && m.spec.standby !== from) return this.dropRpc(from, `job.submit names submitter ${m.spec.submitter}`)
        const refusal = this.refuseSubmission(m.spec.submitter, m.spec.jobId)
        if (refusal !== undefined) {
          this.send(from, { t: 'job.rejected', jobId: m.spec.jobId, term: m.term, error: refusal })
          return this.dropRpc(from, `job.submit refused: ${refusal}`)
        }
        this.send(from, { t: 'job.accepted', jobId: m.spec.jobId, term: m.term })
        void this.coordinator.onSubmit(m.spec, m.code, m.input, m.term).catch(err => this.opts.log.error({ err }, 'job submission failed'))
        break
      }
      case 'job.accepted': this.submissions.onAccepted(from, m.jobId, m.term); break
      case 'job.rejected': this.submissions.onRejected(from, m.jobId, m.term, m.error); break
      case 'job.standby':
        if (m.spec.submitter !== from || m.spec.standby !== this.peerId) return this.dropRpc(from, 'job.standby not from the submitter or not for this node')
        if (this.security.allowSubmit !== undefined && !this.security.allowSubmit.has(from)) return this.dropRpc(from, 'job.standby from a peer not in --allow-submit')
        this.submissions.hold(m.spec, m.code, m.input)
        this.send(from, { t: 'job.standbyAck', jobId: m.spec.jobId })
        break
      case 'job.standbyAck': this.submissions.onStandbyAck(from, m.jobId); break
      case 'task.assigns': case 'task.results': break // unbatched in onFrame
      case 'job.query': {
        const record = this.registry.get(m.jobId)
        if (record !== undefined) this.send(from, { t: 'job.found', record })
        break
      }
      case 'job.found':
        for (const resolve of [...(this.queries.get(m.record.jobId) ?? [])]) resolve(m.record)
        break
      case 'timeline.get': this.timelines.onGet(from, m); break
      case 'timeline.found': this.timelines.onFound(from, m); break
      case 'logs.get': this.logs.onGet(from, m); break
      case 'logs.found': this.logs.onFound(from, m); break
    }
  }

  /**
   * `meshwork cancel`: the job shows 'cancelled' here at once, and the cancel goes to every
   * member of its replica set, its coordinator and its submitter until each acknowledges it.
   * Each keeps a tombstone and never claims or runs the job again, so it works without a
   * majority (its coordinator dead, its backups cut off); a result already committed stands.
   */
  private cancelJob (record: JobRecord): void {
    const nowMs = Date.now()
    const cancelled: JobRecord = { ...record, state: 'cancelled', inFlight: 0, finishedAtMs: nowMs, wallMs: nowMs - record.submittedAtMs }
    this.registry.upsert(cancelled, nowMs)
    this.replicas.cancel(cancelled, [...new Set([...(record.replicaSet ?? []), record.coordinator, record.submitter])])
  }

  /** This node holds the job cancelled: it stops the job if it coordinates it, and shows it cancelled. */
  private onCancelled (jobId: string, record: JobRecord | undefined): void {
    if (this.coordinator.coordinates(jobId)) this.coordinator.cancel(jobId)
    const known = this.registry.get(jobId) ?? record
    if (known === undefined || FINAL_STATES.has(known.state)) return
    const nowMs = Date.now()
    this.registry.upsert({ ...known, state: 'cancelled', inFlight: 0, finishedAtMs: nowMs, wallMs: nowMs - known.submittedAtMs }, nowMs)
  }

  /** Why this node, as coordinator, refuses a submitter's job (undefined: it accepts it). */
  private refuseSubmission (submitter: string, jobId: string): string | undefined {
    const sec = this.security
    if (sec.allowSubmit !== undefined && !sec.allowSubmit.has(submitter)) return `peer ${submitter} is not allowed to submit jobs (--allow-submit)`
    if (this.coordinator.coordinates(jobId)) return undefined
    const active = this.coordinator.activeJobsOf(submitter)
    if (active >= sec.jobsPerSubmitterMax) return `${submitter} already has ${active} jobs coordinated here, the limit (--max-jobs-per-submitter ${sec.jobsPerSubmitterMax})`
    return undefined
  }

  private dropRpc (from: string, reason: string): void {
    this.rpcDropped++
    this.opts.log.warn({ from, reason }, 'dropped rpc message')
  }

  /**
   * Running tasks changed: publish new slot figures soon. Coalesced over LOAD_CHANGE_MS, not per
   * turn: under tiny tasks the count changes in almost every turn, and rebuilding the metrics
   * for the membership core each time was 3–5 % of a worker's profile, while the core publishes
   * a change of load band at most every 500 ms (loadPublishGapMs) anyway.
   */
  private onLoadChange (): void {
    if (this.loadChangeScheduled) return
    this.loadChangeScheduled = true
    setTimeout(() => {
      this.loadChangeScheduled = false
      if (this.stopping === undefined) this.publishMetrics()
    }, LOAD_CHANGE_MS).unref()
  }

  status (): StatusView { return statusView(this.peerId, this.membership.peers(), { nowMs: now(), staleAfterMs: this.membership.config.deadAfterMs }) }

  private wire (): void {
    const pubsub = this.node.services.pubsub
    pubsub.subscribe(MEMBERSHIP_TOPIC)
    pubsub.addEventListener('message', evt => {
      const msg = evt.detail
      if (msg.topic !== MEMBERSHIP_TOPIC) return
      // StrictSign: unsigned messages never reach us, `from` is the verified origin.
      if (msg.type !== 'signed') return
      this.metrics?.vectorReceived()
      this.apply(this.membership.step({ type: 'message', from: msg.from.toString(), data: msg.data }, now()))
    })
    this.api.route('GET', '/status', () => this.status())
    this.api.route('POST', '/drain', () => this.drainer.start())
    this.api.route('GET', '/drain', () => ({ ...this.drainer.progress(), owner: this.guard.view() }))
    registerJobRoutes(this.api, {
      selfId: this.peerId, election: this.opts.election, members: () => this.members(), registry: this.registry,
      history: this.history,
      submissions: this.submissions,
      query: async jobId => await this.queryJob(jobId),
      cancel: record => this.cancelJob(record),
      backups: this.opts.backups,
      wallMs: () => Date.now(),
      capabilities: () => this.workerViews().filter(w => (w.status === 'alive' || w.status === 'suspect') && w.slotsTotal > 0).map(w => w.caps ?? { tools: [], labels: {}, memTotal: 0, cpuCores: 0 }),
      allowSubmit: this.security.allowSubmit,
      jobsPerSubmitterMax: this.security.jobsPerSubmitterMax,
      // The job travels to its coordinator in one message, with room for the spec around code and input.
      submitBytesMax: this.opts.rpcFrameBytesMax - 64 * 1024,
      blobs: this.blobs,
      logs: this.logs,
    })
    registerBlobRoutes(this.api, { store: this.blobs, bytesMax: this.opts.blobBytesMax ?? DEFAULT_BLOB_BYTES_MAX })
    registerDashboardRoutes(this.api, {
      events: new EventsStream({ selfId: this.peerId, status: () => this.status(), jobs: () => this.registry.list(), log: this.opts.log }),
      timelines: this.timelines,
    })
    const metrics = this.metrics = new NodeMetrics({
      selfId: this.peerId,
      version: SOFTWARE_VERSION,
      uptimeMs: () => Date.now() - this.startedAtMs,
      peers: () => this.membership.peers(),
      self: () => { const v = this.membership.peers()[0]?.vector; return v === undefined ? undefined : { ...v, draining: v.draining === true } },
      jobs: () => this.registry.list(),
      historyJobs: () => this.history.size,
      coordinating: () => this.coordinator.activeJobs,
      executors: () => this.pool.stats(),
      tasksReturned: () => this.worker.tasksReturned,
      rpcDropped: () => this.rpcDropped,
    })
    registerMetricsRoute(this.api, metrics)
    this.refreshMetrics()
    this.every(TICK_MS, () => {
      this.apply(this.membership.step({ type: 'tick' }, now()))
      this.coordinator.tick()
      this.replicas.tick()
      this.submissions.tick()
    })
    this.every(STALE_RECORD_MS / 5, () => this.refreshStaleRecords())
    this.every(PROBE_MS, () => this.refreshMetrics())
    this.every(MAINTAIN_MS, () => this.maintainConnections())
    this.maintainConnections()
    this.guard.start()
    const sweeper = new ScratchSweeper({
      dir: join(this.opts.dataDir, 'scratch'),
      retentionMs: this.opts.scratchRetentionMs ?? DEFAULT_SCRATCH_RETENTION_MS,
      lastUsedMs: (codeHash, jobId) => this.worker.scratchLastUsedMs(codeHash, jobId),
      onRemoved: (codeHash, jobId) => this.worker.forgetScratchDir(codeHash, jobId),
      log: this.opts.log,
    })
    const retentionMs = this.opts.scratchRetentionMs ?? DEFAULT_SCRATCH_RETENTION_MS
    const sweep = (): void => {
      void sweeper.sweep()
      void this.blobs.sweep(Date.now(), retentionMs).then(n => { if (n > 0) this.opts.log.info({ removed: n }, 'removed input blobs unused for the scratch retention time') })
    }
    this.timers.push(setTimeout(sweep, SCRATCH_FIRST_SWEEP_MS).unref())
    this.every(SCRATCH_SWEEP_MS, sweep)
  }

  private every (ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      try { fn() } catch (err) { this.opts.log.error({ err }, 'periodic task failed') }
    }, ms)
    this.timers.push(timer)
  }

  private refreshMetrics (): void {
    this.lastHost = this.probe.sample(now())
    // Read here, not per publish: publishMetrics runs on every load change, and listing the
    // addresses classifies each one (private or public) anew.
    this.addrs = this.node.getMultiaddrs().map(a => a.toString())
    this.publishMetrics()
  }

  private publishMetrics (): void {
    const running = this.worker.runningTasks
    const metrics: LocalMetrics = {
      ...emptyMetrics(this.opts),
      ...this.lastHost,
      slotsFree: Math.max(0, this.opts.slots - running),
      runningTasks: running,
      addrs: this.addrs,
      uptimeMs: Date.now() - this.startedAtMs,
      apiUrl: this.apiUrl,
      ownerCpuLoad: this.guard.ownerCpuLoad,
      accepting: this.guard.accepting,
      tools: this.tools,
      ...(this.security.allowNetwork ? { network: true } : {}),
      ...(this.security.sandbox === undefined ? { unboxed: true } : {}),
      ...(this.drainer.state !== 'serving' ? { draining: true } : {}),
      ...this.yieldingField(),
    }
    this.apply(this.membership.step({ type: 'metrics', metrics }, now()))
  }

  /** Why this node yields, for the vector (jobs waiting on it say so). */
  private yieldingField (): { yielding?: Yielding } {
    const v = this.guard.view()
    if (v.accepting || v.reason === undefined) return {}
    return { yielding: { reason: v.reason, ...(v.reason === 'owner-cpu' ? { busyAbove: this.guard.policy.busyAbove } : {}) } }
  }

  private maintainConnections (): void {
    const alive = this.membership.peers().slice(1)
      .filter(p => p.status === 'alive' || p.status === 'suspect')
      .map(p => ({ peerId: p.vector.peerId, addrs: p.vector.addrs }))
    this.connectivity.maintain(alive)
  }

  private apply (effects: MembershipEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'publish':
          this.node.services.pubsub.publish(MEMBERSHIP_TOPIC, effect.data)
            .catch((err: Error) => this.opts.log.debug({ err: err.message }, 'publish failed'))
          break
        case 'peerStatus':
          this.metrics?.peerStatusChanged(effect.status)
          this.opts.log.info({ peer: effect.peerId, status: effect.status, previous: effect.previous }, 'peer status')
          break
        case 'dropped':
          this.metrics?.gossipMessageDropped()
          this.opts.log.warn({ from: effect.from, reason: effect.reason }, 'dropped gossip message')
          break
        case 'refuted':
          this.opts.log.info({ incarnation: effect.incarnation }, 'refuted a suspicion of this node')
          break
        case 'stalled': {
          // Short stalls are common on a busy machine; one long enough to suspect peers is news.
          const level = effect.gapMs >= this.membership.config.suspectAfterMs ? 'warn' : 'debug'
          this.opts.log[level]({ gapMs: Math.round(effect.gapMs) }, 'this node did not run for a while (paused or overloaded): peers\' silence in that time is not held against them')
          break
        }
      }
    }
  }

  /** Announce that we leave, then stop everything. Safe to call twice. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t)
      // Executors killed by the signal that stops this node (Ctrl-C reaches the whole group) stay dead.
      this.pool.retire()
      this.guard.stop()
      this.drainer.stop()
      // Jobs stay with their backups, and running tasks go back to their coordinators as handed
      // back (placed elsewhere, not counted as failures) before the executors are closed.
      this.coordinator.stop()
      this.worker.giveBack()
      this.apply(this.membership.step({ type: 'leave' }, now()))
      // Give the leave message a moment to reach the wire before the connections close.
      await new Promise(resolve => setTimeout(resolve, 300))
      await this.api.close()
      await this.pool.close()
      await this.channels.stop()
      await this.node.stop()
      removeApiRecord(this.opts.dataDir)
    })()
    return await this.stopping
  }
}

function now (): number { return performance.now() }

const BOOT_ID = randomBytes(8).toString('hex')
/** Read once: os.cpus() parses /proc and metrics are rebuilt on every change of running tasks. */
const CPU_CORES = cpus().length

function emptyMetrics (opts: DaemonOptions): LocalMetrics {
  return {
    addrs: [], cpuCores: CPU_CORES, cpuLoad: 0, memFree: 0, memTotal: 0, diskFree: 0, ioLoad: 0,
    slotsTotal: opts.slots, slotsFree: opts.slots, runningTasks: 0, uptimeMs: 0, softwareVersion: SOFTWARE_VERSION,
    ownerCpuLoad: 0, accepting: true, labels: opts.labels, tools: [], os: platform(), arch: arch(), nodeVersion: process.version,
    bootId: BOOT_ID,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
  }
}
