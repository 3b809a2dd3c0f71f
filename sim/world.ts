import { Membership, type MembershipEffect } from '../src/gossip/membership.js'
import { fixedStrategy, rendezvousStrategy, type ElectionStrategy, type Member } from '../src/election/strategy.js'
import type { WorkerView } from '../src/jobs/scheduler.js'
import { archSpec, type ArchSpec } from './arch/arch-spec.js'
import { CoordinatorBinding } from './arch/coordinator.js'
import { ReplicaBinding } from './arch/replicas.js'
import { SubmitterBinding } from './arch/submitter.js'
import { SharedStore } from './arch/shared-store.js'
import type { ArchName, SimConfig } from './config.js'
import { Rng } from './engine/random.js'
import { Simulation, type StopReason } from './engine/simulation.js'
import type { FaultPlan } from './faults.js'
import { GossipModel } from './gossip/gossip-model.js'
import { bootIdOf, localMetrics } from './gossip/local-metrics.js'
import { Collector } from './metrics/collector.js'
import { Ledger } from './metrics/ledger.js'
import { ControlPlane } from './model/control-plane.js'
import { nodeIndexOf, SimNode } from './model/sim-node.js'
import { WorkerCore } from '../src/jobs/worker-core.js'
import { isRouted, routeMessage, type NodeRoles } from '../src/jobs/message-routes.js'
import * as worker from './model/worker.js'
import { jobIdOf, messageBytes, type SimMessage } from './net/messages.js'
import { Network } from './net/network.js'
import { scheduleFaults } from './model/fault-injector.js'
import { scheduleOwners } from './model/owner-load.js'
import { OwnerPolicy, type OwnerPolicyName } from '../src/jobs/owner-policy.js'
import { FINAL_STATES, type JobSpec, type Priority } from '../src/jobs/job-spec.js'
import { buildWorkload, type JobPlan, type Workload, type WorkloadName } from './workload/workloads.js'

// One simulated mesh: nodes, network, gossip model, the architecture's bindings, workload and
// faults. The bindings call back into the world for everything that crosses a node boundary
// (send, views, roles), so this is the only place that knows all the parts.

export type Injection = 'wrong-result' | 'double-publish' | undefined

export interface RunSpec {
  arch: ArchName
  nodes: number
  workload: WorkloadName
  tasks?: number
  jobs?: number
  seed: number
  faults: FaultPlan
  cfg: SimConfig
  /** Deliberate bugs, to prove the checkers catch them. */
  inject?: Injection
  /** Time at which every fault is healed (DST liveness phase); undefined = never. */
  healAtMs?: number
  /** Calibration: every task takes this many CPU ms at speed 1 (replaces the workload's distribution). */
  taskMs?: number
  /** Calibration: identical nodes with this many slots and speed 1. */
  uniformSlots?: number
  /**
   * Nodes with an owner run this owner policy (the real core, src/jobs/owner-policy.ts): pause,
   * give back, accept again. Undefined: the older model (stop accepting above ownerAcceptMax).
   */
  ownerPolicy?: OwnerPolicyName
}

/** A node crash-free for this long before the first job: every node has published once. */
export const WARMUP_MS = 2500
const TICK_BUCKETS = 10
const UNREACHABLE_DETECT_MS = 1000
/** With no accepted task and no finished job for this long, the run is declared stalled. */
const STALL_MS = 120_000
const PROGRESS_SAMPLE_MS = 1000

export class World {
  readonly sim: Simulation
  readonly cfg: SimConfig
  readonly arch: ArchSpec
  readonly nodes: SimNode[] = []
  readonly net: Network
  readonly gossip: GossipModel
  readonly ledger = new Ledger()
  readonly metrics = new Collector()
  readonly workload: Workload
  readonly jobsById = new Map<string, JobPlan>()
  readonly strategy: ElectionStrategy
  readonly masterIndex = 0
  readonly store: SharedStore | undefined
  readonly seed: number
  private readonly rngNodes: Rng
  private readonly rngView: Rng
  private readonly coordinators = new Map<number, CoordinatorBinding>()
  private readonly replicaBindings = new Map<number, ReplicaBinding>()
  readonly submitters = new Map<number, SubmitterBinding>()
  private readonly specs = new Map<string, JobSpec>()
  private readonly chunks = new Map<string, readonly number[]>()
  readonly ownerOn: Uint8Array
  private jobsOpen = 0
  private lastProgressMs = 0
  private lastAccepted = -1
  private injectedWrong = false
  private injectedDouble = false
  stopReason: StopReason | 'stalled' = 'idle'
  /** Every crash per node (DST: was a job's whole replica set lost?). */
  readonly crashTimes = new Map<number, number[]>()
  firstSubmitMs = Infinity
  lastFinalMs = 0

  constructor (readonly spec: RunSpec) {
    const { cfg, nodes: n, seed } = spec
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`nodes must be an integer from 1 to 100000, got ${n}`)
    this.cfg = cfg
    this.seed = seed
    this.arch = archSpec(spec.arch, cfg.protocol.backups)
    this.sim = new Simulation({ timeMsMax: cfg.timeMsMax, eventsMax: cfg.eventsMax, eventsQueuedMax: cfg.eventsQueuedMax })
    this.rngNodes = Rng.stream(seed, 'nodes')
    this.rngView = Rng.stream(seed, 'views')
    const endpoints = n + (this.arch.transport === 'db' ? 1 : 0)
    this.net = new Network(this.sim, Rng.stream(seed, 'net'), cfg.net, endpoints)
    this.net.loss = spec.faults.loss
    for (let i = 0; i < n; i++) {
      const slots = spec.uniformSlots ?? this.rngNodes.pick(cfg.node.slotChoices)
      const speed = spec.uniformSlots !== undefined ? 1 : Math.min(cfg.node.speedMax, Math.max(cfg.node.speedMin, this.rngNodes.lognormal(1, cfg.node.speedSigma)))
      this.nodes.push(new SimNode(i, slots, speed, new ControlPlane(this.sim, cfg.service.backlogMsMax)))
    }
    this.ownerOn = new Uint8Array(n)
    this.store = this.arch.transport === 'db' ? new SharedStore(this, n) : undefined
    this.strategy = this.arch.election === 'fixed' ? fixedStrategy(this.nodes[this.masterIndex]!.id) : rendezvousStrategy
    this.gossip = new GossipModel(this.sim, Rng.stream(seed, 'gossip'), this.net, this.nodes, cfg.scale.observerDeliveryGapMs, cfg.net.gossipDegree,
      (o, from, data) => this.applyMembership(o, o.membership?.step({ type: 'message', from: this.nodes[from]!.id, data }, this.sim.nowMs)))
    this.workload = buildWorkload(spec.workload, n, Rng.stream(seed, 'workload'), WARMUP_MS, spec.tasks, spec.jobs)
    for (const job of this.workload.jobs) {
      if (spec.taskMs !== undefined) job.duration = { kind: 'lognormal', medianMs: spec.taskMs, sigma: 0, maxMs: spec.taskMs }
      this.jobsById.set(job.jobId, job)
      this.ledger.add(job)
    }
  }

  // ---- running ----

  run (): StopReason | 'stalled' {
    for (const node of this.nodes) this.boot(node)
    if (this.arch.transport === 'gossip') {
      const all = this.nodes.length <= this.cfg.scale.allObserveNodesMax
      const probes = all ? this.nodes.map(x => x.index) : this.rngView.sample(this.nodes.length, this.cfg.scale.probeObservers)
      // Observers start once every node has published, as if they had been listening all along.
      this.sim.at(this.cfg.protocol.publishIntervalMs + 50, () => { for (const p of probes) this.observe(p, []) })
    }
    for (let b = 0; b < TICK_BUCKETS; b++) this.sim.at(b * this.cfg.protocol.tickMs / TICK_BUCKETS, () => this.tickBucket(b))
    this.store?.start()
    scheduleOwners(this, this.workload.ownerFraction ?? this.cfg.node.ownerFraction, this.ownerOn)
    scheduleFaults(this, this.spec.faults, this.spec.healAtMs)
    this.jobsOpen = this.workload.jobs.length
    for (const job of this.workload.jobs) {
      this.firstSubmitMs = Math.min(this.firstSubmitMs, job.submitAtMs)
      this.sim.at(job.submitAtMs, () => this.submitJob(job))
    }
    this.sim.at(WARMUP_MS, () => this.watchProgress())
    const reason = this.sim.run()
    if (this.stopReason === 'idle') this.stopReason = reason
    return this.stopReason
  }

  private submitJob (job: JobPlan): void {
    const node = this.nodes[job.submitter]!
    const entry = this.ledger.get(job.jobId)!
    if (!node.up || node.membership === undefined) {
      // The submitter is down: its client tries again later.
      this.sim.after(this.cfg.protocol.submitRetryMs, () => this.submitJob(job))
      return
    }
    entry.submittedAtMs = Math.min(entry.submittedAtMs, this.sim.nowMs)
    this.observe(node.index, [])
    this.submitterBinding(node).submit(job.jobId)
  }

  /** A job reached a final state: stop once every job has. */
  jobFinished (jobId: string): void {
    const e = this.ledger.get(jobId)
    if (e === undefined || e.publishes !== 1) return
    this.jobsOpen--
    this.lastFinalMs = this.sim.nowMs
    this.lastProgressMs = this.sim.nowMs
    if (this.jobsOpen <= 0) {
      this.stopReason = 'done'
      this.sim.stop()
    }
  }

  private watchProgress (): void {
    this.metrics.sample(this.sim.nowMs)
    if (this.metrics.tasksAccepted !== this.lastAccepted) {
      this.lastAccepted = this.metrics.tasksAccepted
      this.lastProgressMs = this.sim.nowMs
    }
    const healed = this.spec.healAtMs === undefined || this.sim.nowMs >= this.spec.healAtMs
    const pendingSubmits = this.workload.jobs.some(j => j.submitAtMs > this.sim.nowMs)
    if (healed && !pendingSubmits && this.sim.nowMs - this.lastProgressMs > STALL_MS) {
      this.stopReason = 'stalled'
      this.sim.stop()
      return
    }
    this.sim.after(PROGRESS_SAMPLE_MS, () => this.watchProgress())
  }

  private tickBucket (bucket: number): void {
    for (let i = bucket; i < this.nodes.length; i += TICK_BUCKETS) this.tickNode(this.nodes[i]!)
    this.sim.after(this.cfg.protocol.tickMs, () => this.tickBucket(bucket))
  }

  private tickNode (node: SimNode): void {
    const membership = node.membership
    if (!node.up || membership === undefined) return
    const now = this.sim.nowMs
    // Heartbeat and store transports report once per interval (no immediate publishes);
    // gossip refreshes metrics on every load change (loadChanged) and each probe second.
    if (now - node.lastMetricsMs >= this.cfg.protocol.publishIntervalMs) this.feedMetrics(node)
    this.applyMembership(node, membership.step({ type: 'tick' }, now))
    const coord = this.coordinators.get(node.index)
    if (coord !== undefined && coord.core.size > 0) coord.tick()
    const replicas = this.replicaBindings.get(node.index)
    if (replicas !== undefined && replicas.holder.size > 0) replicas.tick()
    const submitter = this.submitters.get(node.index)
    if (submitter !== undefined && submitter.pendingCount > 0) submitter.tick()
  }

  private feedMetrics (node: SimNode): void {
    node.metricsPending = false
    node.lastMetricsMs = this.sim.nowMs
    const membership = node.membership
    if (!node.up || membership === undefined) return
    const ownerLoad = this.ownerLoadOf(node)
    const metrics = localMetrics(node, ownerLoad, this.acceptingOf(node, ownerLoad), this.sim.nowMs)
    this.applyMembership(node, membership.step({ type: 'metrics', metrics }, this.sim.nowMs))
  }

  /**
   * Running tasks or owner load changed: p2p publishes soon. The daemon coalesces per
   * event-loop turn; here changes within loadCoalesceMs are fed as one (the core publishes a
   * change of load band at most every loadPublishGapMs anyway), which keeps a busy node to a few
   * steps a second.
   */
  loadChanged (node: SimNode): void {
    if (this.ownerOn[node.index] === 1) this.accountOwner(node)
    if (this.arch.transport !== 'gossip' || node.metricsPending) return
    node.metricsPending = true
    const epoch = node.epoch
    const waitMs = Math.max(0, node.lastMetricsMs + this.cfg.protocol.loadCoalesceMs - this.sim.nowMs)
    this.sim.after(waitMs, () => { if (node.epoch === epoch) this.feedMetrics(node) })
  }

  // ---- node lifecycle ----

  boot (node: SimNode): void {
    node.up = true
    node.startedAtMs = this.sim.nowMs
    node.lastMetricsMs = -Infinity
    // Like the daemon: the incarnation is the start time, so a restart supersedes old vectors.
    node.incarnation = Math.floor(this.sim.nowMs) + 1
    const ownerLoad = this.ownerLoadOf(node)
    node.membership = new Membership(
      { peerId: node.id, incarnation: node.incarnation, metrics: localMetrics(node, ownerLoad, this.acceptingOf(node, ownerLoad), this.sim.nowMs) },
      { publishIntervalMs: this.cfg.protocol.publishIntervalMs, suspectAfterMs: this.cfg.protocol.suspectAfterMs, deadAfterMs: this.cfg.protocol.deadAfterMs, peersMax: 100_000 },
    )
    // The master hears every worker's heartbeats (directly or through the store).
    if (this.arch.transport !== 'gossip' && node.index === this.masterIndex) node.observer = true
    if (this.arch.transport === 'gossip' && this.nodes.length <= this.cfg.scale.allObserveNodesMax && this.sim.nowMs > 0) this.observe(node.index, [])
  }

  crash (node: SimNode): void {
    if (!node.up) return
    if (this.ownerOn[node.index] === 1) this.accountOwner(node)
    const now = this.sim.nowMs
    for (const t of node.running.values()) node.slotBusyMs += now - t.startedMs
    const coord = this.coordinators.get(node.index)
    if (coord !== undefined) for (const { jobId } of coord.core.coordinated()) this.ledger.get(jobId)?.coordinatorCrashesMs.push(now)
    for (const s of this.submitters.get(node.index)?.pendingJobs() ?? []) {
      const e = this.ledger.get(s)
      if (e !== undefined && e.ackedAtMs === undefined) e.submitterLost = true
    }
    node.up = false
    node.epoch++
    node.crashedAtMs = now
    node.running.clear()
    node.accountedRunning = 0
    // The executors died with the daemon; a restarted daemon starts its policy afresh.
    node.paused = false
    if (node.policy !== undefined) node.policy = new OwnerPolicy(node.policy.config)
    node.queue = []
    node.queueHead = 0
    node.queued.clear()
    node.slotsDown = 0
    node.worker = new WorkerCore()
    node.membership = undefined
    node.observer = false
    node.fullView = false
    this.gossip.untrackAll(node)
    node.tracked.clear()
    this.gossip.forgetPublisher(node.index)
    node.cpu.reset()
    this.coordinators.delete(node.index)
    this.replicaBindings.delete(node.index)
    this.submitters.delete(node.index)
    this.metrics.crashes++
    this.metrics.crashedAtMs.set(node.index, now)
    const times = this.crashTimes.get(node.index) ?? []
    if (times.length < 1000) times.push(now)
    this.crashTimes.set(node.index, times)
  }

  restart (node: SimNode): void {
    if (node.up) return
    this.boot(node)
  }

  /** Graceful leave: publish a `left` vector, then stop after a moment (as the daemon's stop does). */
  leave (node: SimNode): void {
    if (!node.up || node.membership === undefined) return
    this.applyMembership(node, node.membership.step({ type: 'leave' }, this.sim.nowMs))
    const epoch = node.epoch
    this.sim.after(300, () => { if (node.epoch === epoch) this.crash(node) })
  }

  ownerLoadOf (node: SimNode): number { return node.ownerBusy ? this.cfg.node.ownerLoad : 0 }

  acceptingOf (node: SimNode, ownerLoad: number): boolean {
    if (node.slots <= 0) return false
    return node.policy !== undefined ? node.policy.view().accepting : ownerLoad <= this.cfg.node.ownerAcceptMax
  }

  /**
   * Owner-time accounting, called before anything that changes it (tasks start or end, pause,
   * resume, the owner comes or goes): executor-ms of mesh tasks while the owner was busy.
   */
  accountOwner (node: SimNode): void {
    const now = this.sim.nowMs
    const dt = now - node.accountedAtMs
    if (dt > 0 && node.ownerBusy) {
      node.stolenMs += node.accountedRunning * dt
      node.ownerBusyMs += dt
    }
    node.accountedAtMs = now
    node.accountedRunning = node.up && !node.paused ? node.running.size : 0
  }

  // ---- membership plumbing ----

  applyMembership (node: SimNode, effects: MembershipEffect[] | undefined): void {
    if (effects === undefined) return
    let refuted = false
    for (const e of effects) if (e.type === 'refuted') refuted = true
    for (const e of effects) {
      switch (e.type) {
        case 'publish': this.publish(node, e.data, refuted); break
        case 'peerStatus':
          if (e.status === 'dead') this.metrics.peerDead(nodeIndexOf(e.peerId), this.sim.nowMs)
          if (e.status === 'suspect' && this.nodes[nodeIndexOf(e.peerId)]?.up === true) this.metrics.falseSuspicions++
          break
        case 'dropped': case 'refuted': case 'stalled': break
      }
    }
  }

  private publish (node: SimNode, data: Uint8Array, force: boolean): void {
    const suspect = data[6] === 0x73 // {"t":"suspect"…: encodeGossip writes the tag first
    const transport = this.arch.transport
    if (transport === 'gossip') {
      if (suspect) this.gossip.publishSuspect(node.index, this.suspectOf(data), data)
      else this.gossip.publishVector(node.index, data, node.incarnation, force || node.membership?.self.status === 'left')
      return
    }
    // Master archs: the master's notices go straight to the suspect (so it can refute);
    // workers' vectors are heartbeats to the master, or rows in the shared store.
    if (suspect) {
      const to = this.suspectOf(data)
      this.send(node.index, to, { t: 'vector', origin: node.index, data })
      return
    }
    if (node.index === this.masterIndex) return
    if (transport === 'heartbeat') this.send(node.index, this.masterIndex, { t: 'vector', origin: node.index, data })
    else this.store?.write(node.index, data)
  }

  private suspectOf (data: Uint8Array): number {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { peerId: string }
    return nodeIndexOf(parsed.peerId)
  }

  /**
   * Makes `index` an observer (its Membership core receives vectors) tracking `peers`; with
   * `full`, also every peer (or a seeded sample of viewPeersMax at scale): coordinators and
   * submitters need that view, a backup needs only its replica set.
   */
  observe (index: number, peers: readonly number[], full = true): void {
    if (this.arch.transport !== 'gossip') return
    const node = this.nodes[index]
    if (node === undefined || !node.up || node.membership === undefined) return
    node.observer = true
    if (full && !node.fullView) {
      node.fullView = true
      const n = this.nodes.length
      const base = n - 1 <= this.cfg.scale.viewPeersMax
        ? Array.from({ length: n }, (_, i) => i)
        : Rng.stream(this.seed, `view-${index}-${node.epoch}`).sample(n, this.cfg.scale.viewPeersMax)
      for (const p of base) this.trackPeer(node, p)
    }
    for (const p of peers) this.trackPeer(node, p)
  }

  private trackPeer (node: SimNode, peer: number): void {
    if (peer === node.index || node.tracked.has(peer)) return
    node.tracked.add(peer)
    this.gossip.track(node.index, peer)
    // Warm the view with the peer's newest vector, as if this node had been listening.
    const latest = this.gossip.latestVector(peer)
    if (latest !== undefined && this.nodes[peer]?.up === true && this.net.connected(node.index, peer)) {
      this.applyMembership(node, node.membership?.step({ type: 'message', from: this.nodes[peer]!.id, data: latest }, this.sim.nowMs))
    }
  }

  // ---- views for the cores ----

  members (node: SimNode): Member[] {
    const peers = node.membership?.peers() ?? []
    node.viewSize = peers.length
    return peers.map(p => ({ peerId: p.vector.peerId, slotsTotal: p.vector.slotsTotal, status: p.status }))
  }

  workerViews (node: SimNode): WorkerView[] {
    const peers = node.membership?.peers() ?? []
    node.viewSize = peers.length
    return peers.map(p => ({
      peerId: p.vector.peerId, slotsTotal: p.vector.slotsTotal, slotsFree: p.vector.slotsFree, cpuLoad: p.vector.cpuLoad,
      memFree: p.vector.memFree, accepting: p.vector.accepting && p.vector.slotsTotal > 0, status: p.status,
    }))
  }

  isAliveIn (node: SimNode, peerId: string): boolean {
    return peerId === node.id || node.membership?.peer(peerId)?.status === 'alive'
  }

  /** The boot id of a peer this node does not know to be gone (the daemon's liveBoot, the same core rule). */
  liveBoot (node: SimNode, peer: number): string | undefined {
    if (peer === node.index) return bootIdOf(node)
    return node.membership?.liveBoot(this.nodes[peer]?.id ?? '')
  }

  /** Peers this node's view holds alive or suspect, itself included (the daemon's takeover audience). */
  activePeerIds (node: SimNode): string[] {
    return node.membership?.activePeerIds() ?? []
  }

  /** The job as the cores see it: a JobSpec for the plan (built once per job). */
  specOf (plan: JobPlan): JobSpec {
    let spec = this.specs.get(plan.jobId)
    if (spec === undefined) {
      const priority: Priority = plan.weight >= 4 ? 'high' : plan.weight <= 0.25 ? 'low' : 'normal'
      spec = { jobId: plan.jobId, kind: 'function', codeHash: 'sim', moduleName: this.workload.name, priority, submitter: this.nodes[plan.submitter]!.id, submittedAtMs: plan.submitAtMs }
      this.specs.set(plan.jobId, spec)
    }
    return spec
  }

  /** The submitter fixes the job's replica set (as the daemon's API writes it into the spec). */
  fixReplicaSet (plan: JobPlan, replicaSet: readonly string[]): void {
    this.specs.set(plan.jobId, { ...this.specOf(plan), replicaSet: [...replicaSet] })
  }

  /** The job's task table: chunk i is task i (the workload derives each task from its index). One array per job, shared. */
  chunksOf (plan: JobPlan): readonly number[] {
    let chunks = this.chunks.get(plan.jobId)
    if (chunks === undefined) {
      chunks = Array.from({ length: plan.taskCount }, (_, i) => i)
      this.chunks.set(plan.jobId, chunks)
    }
    return chunks
  }

  indexOf (peerId: string): number { return nodeIndexOf(peerId) }

  // ---- roles ----

  coordinatorBinding (node: SimNode): CoordinatorBinding {
    let c = this.coordinators.get(node.index)
    if (c === undefined) {
      c = new CoordinatorBinding(this, node)
      this.coordinators.set(node.index, c)
    }
    return c
  }

  coordinatorOf (node: SimNode): CoordinatorBinding | undefined { return this.coordinators.get(node.index) }

  replicaBinding (node: SimNode): ReplicaBinding {
    let r = this.replicaBindings.get(node.index)
    if (r === undefined) {
      r = new ReplicaBinding(this, node)
      this.replicaBindings.set(node.index, r)
    }
    return r
  }

  replicaOf (node: SimNode): ReplicaBinding | undefined { return this.replicaBindings.get(node.index) }

  submitterBinding (node: SimNode): SubmitterBinding {
    let s = this.submitters.get(node.index)
    if (s === undefined) {
      s = new SubmitterBinding(this, node)
      this.submitters.set(node.index, s)
    }
    return s
  }

  schedulerRandom (node: SimNode): () => number { return Rng.stream(this.seed, `sched-${node.index}-${node.epoch}`).next }

  unreachableLater (coord: SimNode, peer: number): void {
    const epoch = coord.epoch
    this.sim.after(UNREACHABLE_DETECT_MS, () => { if (coord.epoch === epoch && coord.up) this.coordinators.get(coord.index)?.onUnreachable(peer) })
  }

  injectWrongResult (jobId: string, taskIndex: number): boolean {
    if (this.spec.inject !== 'wrong-result' || this.injectedWrong || jobId !== this.workload.jobs[0]?.jobId || taskIndex !== 0) return false
    this.injectedWrong = true
    return true
  }

  injectDoublePublish (jobId: string): boolean {
    if (this.spec.inject !== 'double-publish' || this.injectedDouble || jobId !== this.workload.jobs[0]?.jobId) return false
    this.injectedDouble = true
    return true
  }

  // ---- messages ----

  bytesOf (m: SimMessage): number {
    const jobId = jobIdOf(m)
    const plan = jobId !== undefined ? this.jobsById.get(jobId) : undefined
    return messageBytes(m, plan?.chunkBytes ?? 0, plan?.resultBytes ?? 0)
  }

  /**
   * Sends `m` from `from` to `to` over the network (or locally, with no network cost, when
   * they are the same node). Returns false when `to` cannot be reached right now.
   */
  send (from: number, to: number, m: SimMessage, extraBytes = 0): boolean {
    const target = this.nodes[to]
    if (from === to) {
      const epoch = target?.epoch
      this.sim.after(0, () => { if (target !== undefined && target.epoch === epoch && target.up) this.receive(target, from, m) })
      return true
    }
    // Sync-db: results travel through the store, which the master polls.
    if (this.store !== undefined && (m.t === 'task.ok' || m.t === 'task.failed')) return this.store.result(from, to, m)
    const bytes = this.bytesOf(m) + extraBytes
    if (target === undefined) {
      this.store?.receive(from, m, bytes)
      return true
    }
    const epoch = target.epoch
    const sent = this.net.send(from, to, bytes, () => { if (target.up && target.epoch === epoch) this.receive(target, from, m) })
    return sent && target.up
  }

  /** Per node index, its roles for the message table (built once: they look their bindings up per message). */
  private readonly roles: Array<NodeRoles<number> | undefined> = []

  private receive (node: SimNode, from: number, m: SimMessage): void {
    if (isRouted(m)) return routeMessage(this.rolesOf(node), from, this.nodes[from]!.id, m)
    const svc = this.cfg.service
    switch (m.t) {
      case 'vector':
        // Heartbeats cost the master's control plane; a notice to a worker is handled at once.
        if (node.index === this.masterIndex && this.arch.transport !== 'gossip') {
          node.cpu.handle(svc.vectorUs, () => { if (node.up) this.applyMembership(node, node.membership?.step({ type: 'message', from: this.nodes[m.origin]!.id, data: m.data }, this.sim.nowMs)) })
        } else {
          this.applyMembership(node, node.membership?.step({ type: 'message', from: this.nodes[m.origin]!.id, data: m.data }, this.sim.nowMs))
        }
        break
      case 'job.submit':
        node.cpu.handle(svc.otherUs, () => { if (node.up) this.coordinatorBinding(node).onSubmit(from, m.jobId, m.term) })
        break
      case 'job.ack': this.submitters.get(node.index)?.onAccepted(from, m.jobId, m.term); break
      case 'db.rows': this.store?.onRows(node, m); break
      case 'db.write': case 'db.result': case 'db.read': break
    }
  }

  /** A node's roles as the message table (src/jobs/message-routes.ts) addresses them, as the daemon's. */
  private rolesOf (node: SimNode): NodeRoles<number> {
    const known = this.roles[node.index]
    if (known !== undefined) return known
    const roles: NodeRoles<number> = {
      drop: () => {}, // refused as the daemon refuses it (the daemon also logs it)
      worker: {
        assign: (from, m) => worker.onAssign(this, node, from, m),
        abort: (from, attemptId) => worker.onAbort(this, node, from, attemptId),
        takeover: (jobId, term, coordinator) => worker.onTakeover(this, node, jobId, term, coordinator),
      },
      coordinator: {
        // Results cost the coordinator's control plane.
        taskResult: (from, m) => node.cpu.handle(this.resultCostUs(node), () => { if (node.up) this.coordinators.get(node.index)?.onTaskResult(from, m) }),
        replicaAck: (from, m) => this.coordinators.get(node.index)?.onReplicaAck(from, m),
        confirmReply: (from, m) => this.coordinators.get(node.index)?.onConfirmReply(from, m),
        commitReply: (from, m) => this.coordinators.get(node.index)?.onCommitReply(from, m),
      },
      replicas: {
        record: (from, record) => {
          this.submitters.get(node.index)?.noteRecord(record)
          this.replicaBindings.get(node.index)?.holder.noteRecord(record, this.nodes[from]?.id)
        },
        replica: (from, m) => this.replicaBinding(node).onReplica(from, m),
        progress: (from, m) => this.replicaBindings.get(node.index)?.onProgress(from, m),
        claim: (from, m) => this.replicaBinding(node).onClaim(from, m),
        claimReply: (from, m) => this.replicaBindings.get(node.index)?.onClaimReply(from, m),
        confirm: (from, m) => this.replicaBinding(node).onConfirm(from, m),
        commit: (from, m) => this.replicaBinding(node).onCommit(from, m),
        takeover: (from, m) => this.replicaBindings.get(node.index)?.onTakeover(from, m),
      },
    }
    this.roles[node.index] = roles
    return roles
  }

  /** Control-plane cost of a task result at a coordinator: handling plus the placement scan of its view. */
  resultCostUs (node: SimNode): number {
    return this.cfg.service.taskResultUs + this.cfg.service.placementUsPerWorker * node.viewSize
  }
}
