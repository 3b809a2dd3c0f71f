// A supervised pool of executor child processes, one per slot. Task code never runs in the daemon:
// whatever a task does (throw, hang, exit, exhaust its heap) the daemon only sees an outcome.
// Tasks are pipelined (several in flight per child) and batched per event-loop turn both ways.
import type { ExecutorProcess } from './executor-process.js'
import { classifyDeath, defaultChildEntry, spawnExecutor } from './executor-process.js'
import type { ArgFile, ChildMessage, GroupEntry, TaskOp, WireResult, WireTask } from './executor-protocol.js'
import { packTasks, unpackResult, RESULT_BYTES_MAX_ENV, sizeLimitFlag, SPLIT_BYTES_MAX_ENV } from './executor-protocol.js'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { permissionFlag, sandboxExecArgv, sandboxFor, TOOLS_ENV, type Sandbox, type SandboxChoice, type SandboxPolicy } from './sandbox.js'
import { BWRAP, bwrapArgs, probeBwrap, type BwrapPaths, type BwrapProbe } from './bwrap.js'
import { parseChildMessage } from './child-messages.js'
import { executorEnv } from './executor-env.js'
import { MemoryCaps, type ExecutorCap } from './memory-cap.js'
import { treeUsage } from './process-tree.js'
import { RawJson } from '../../jobs/raw-json.js'
import type { FailureKind } from '../../jobs/failure-kinds.js'
import type { CapturedLogs } from './log-capture.js'

export type { TaskOp } from './executor-protocol.js'

export interface ExecutorPoolOptions {
  slots: number
  /**
   * Per child: its resident memory (a cgroup limit where the machine delegates one, else
   * RLIMIT_AS, and the pool watching RSS) and its V8 heap (default 512).
   */
  memoryLimitMB?: number
  /** 'auto': a cgroup where one is delegated, else RLIMIT_AS; 'rlimit': RLIMIT_AS only (tests); 'off': only the heap limit and the RSS watch. Default 'auto'. */
  memoryCap?: 'auto' | 'rlimit' | 'off'
  /** A task running longer is failed as 'timeout'; its child is SIGKILLed and replaced (default 60 000). */
  taskTimeoutMs?: number
  /** Applied to every child right after spawn (default 19). */
  niceness?: number
  /** Tasks sent ahead to one child, so tiny tasks do not wait on IPC round trips (default 4). */
  pipelineDepth?: number
  /** Tasks waiting for a child beyond this are refused as 'aborted' (default 100 000). */
  maxQueued?: number
  /** Settings added to the children's environment (which is otherwise an allowlist: executor-env.ts). */
  env?: Record<string, string>
  logger?: { warn: (obj: object, msg?: string) => void, info: (obj: object, msg?: string) => void }
  /** The compiled child entry; defaults to executor-child.js beside this module (or under dist/). */
  childEntry?: string
  /**
   * Run task code under Node's permission model with this policy (see sandbox.ts). Undefined: no
   * sandbox (tests of the pool itself). Ignored, with a warning, where Node has no permission model.
   */
  sandbox?: SandboxPolicy
  /** A task whose executor used more CPU time than this is killed and failed as 'cpu-limit' (Linux; default: no limit). */
  taskCpuMsMax?: number
  /** A result (JSON) larger than this fails its task as 'too-large' (default: no limit). */
  resultBytesMax?: number
  /**
   * The same for split(), whose chunks are the job's input cut up: they must fit in the messages
   * that carry them to the backups, not under the per-result limit (default: resultBytesMax).
   */
  splitBytesMax?: number
  /**
   * Idle children of other profiles kept for when their job's code runs again (default: twice the
   * slots; 0 kills a child as soon as another profile needs its slot). See `Spare`.
   */
  sparesMax?: number
  /** A kept child idle this long is stopped (default 60 000). */
  spareIdleMs?: number
}

export interface TaskRequest {
  /** Attempt id, unique among pending tasks. */
  id: string
  op: TaskOp
  modulePath: string
  codeHash: string
  /** The chunk for map, the results array for reduce, the input for split. */
  arg: unknown
  ctx: Record<string, unknown>
  /**
   * The directory the executor may read and write (the sandbox's grant): the scratch dir of every
   * job that runs this code, holding `ctx.scratchDir`. Default: `ctx.scratchDir` itself.
   */
  workspaceDir?: string
  /** Tools the job declares (`requires.tools`): the sandbox lets the task start them if the node allows each. */
  tools?: readonly string[]
  /** The job declares `network: true`: the node must allow it (`--allow-network`). */
  network?: boolean
  /** The job module's own environment variables. */
  env?: Readonly<Record<string, string>>
  /**
   * A map task's group: more of its job's tasks, [taskIndex, chunk], run in the same call (see
   * WireTask.group); a successful outcome's value is then the array of every task's result.
   */
  group?: GroupEntry[]
  /** The value as the JSON text the executor wrote (a RawJson, each of a group's too), not parsed: for results this node passes on. */
  rawResult?: true
  /** Fold the group's results with the module's combine() (see WireTask.combine): the value is then that one result, `combined`. */
  combine?: true
  /** The input is this file (a split of stored input); `arg` is then ignored. */
  argFile?: ArgFile
}

/** 'protocol': the executor sent a message that does not parse (task code can write to the channel); it was killed. */
export type TaskFailureKind = Extract<FailureKind, 'bad-input' | 'threw' | 'timeout' | 'exited' | 'oom' | 'aborted' | 'not-serialisable' | 'bad-module' | 'denied' | 'too-large' | 'cpu-limit' | 'protocol'>

/** `logs`: what the task wrote to stdout and stderr, bounded (src/jobs/log-capture.ts); absent when it wrote nothing, or its executor died. */
export type TaskOutcome =
  | { ok: true; value: unknown; durationMs: number; combined?: true; logs?: CapturedLogs }
  | { ok: false; kind: TaskFailureKind; error: string; durationMs: number; stack?: string; logs?: CapturedLogs }

export interface ExecutorPoolStats {
  slotsTotal: number
  slotsBusy: number
  /** Children started and ready for tasks. */
  slotsReady: number
  /** Idle children of other profiles, kept for their code's next job. */
  spares: number
  running: number
  queued: number
  restarts: number
  /** Children started since the pool was made (metrics). */
  started: number
  /** Children that died by themselves (a crash, the OOM killer), not killed by the pool nor by a signal to the node's group. */
  died: number
  /** Children the pool killed on purpose, by reason (a timeout, an abort, CPU or memory over its limit, a malformed message). */
  killed: Record<string, number>
  pids: number[]
}

interface Pending {
  req: TaskRequest
  resolve: (outcome: TaskOutcome) => void
  state: 'queued' | 'inflight' | 'settled'
  /** Run alone on a child: it was in flight when a child died and the culprit was unclear. */
  solo: boolean
  slot?: Slot
  /** The executor profile this task needs ('' without a sandbox). */
  profile: string
  sandbox: Sandbox | undefined
}

interface Slot {
  index: number
  exec: ExecutorProcess | null
  ready: boolean
  /** Insertion order is the child's execution order; the first entry is the one running. */
  inflight: Map<string, Pending>
  /** When the first in-flight task (probably) started: the last result batch, or the send. */
  headSinceMs: number
  timer: NodeJS.Timeout | null
  quickDeaths: number
  /** The profile of the current child: it only runs tasks of that profile. */
  profile: string
  sandbox: Sandbox | undefined
  /** CPU time (ms) the child had used when its current head task started. */
  headCpuMs: number

  /** A respawn is waiting out its backoff. */
  spawnPending: boolean
  /** Its child is SIGSTOPped by pause() (the owner policy). */
  held: boolean
}

/**
 * An idle child taken out of its slot because another job's profile needed the slot, kept (not
 * killed) for a while: a job's code tends to run again (the same job resubmitted, jobs
 * alternating), and starting a child costs ~100 ms of CPU and more of wall time on a busy
 * machine — for a short job, most of its time (a 32-task job: 400–650 ms with new children,
 * 35–80 ms with children kept).
 */
interface Spare {
  exec: ExecutorProcess
  sandbox: Sandbox | undefined
  profile: string
  ready: boolean
  parkedAtMs: number
}

const SANDBOX_CHOICES_MAX = 256

/** Tasks that ran shorter than this on average are packed into one child rather than spread. */
const PACK_BELOW_MS = 2
/**
 * Packed tasks go this many times pipelineDepth deep: a coordinator sends a worker twice the
 * tasks per slot for jobs of short tasks (SchedulerConfig.shortWindowPerSlot), and one child
 * taking them all in one message, and answering in one, halves the IPC messages and wake-ups.
 */
const PACKED_DEPTH_FACTOR = 2
/** The weight of the latest task in recentTaskMs (about the last 20 tasks count). */
const RECENT_TASK_WEIGHT = 0.05

/**
 * A task is sent ahead to a busy child only if its job's tasks ran shorter than this here (and the
 * child's current task has not run longer): pipelining hides IPC round trips, which matter only
 * for short tasks. Longer tasks wait in the pool, where another job's task can still go first —
 * jobs of the same code share their children, so a long job would otherwise fill every child's
 * pipeline and a short job's split, tasks and reduce would each wait behind it.
 */
const PIPELINE_BELOW_MS = 50
/** Jobs whose recent task duration the pool remembers (for the rule above). */
const JOBS_REMEMBERED_MAX = 1024

/** How far past the queue head a slot looks for a task of its own profile before switching. */
const PROFILE_LOOKAHEAD = 256
const CPU_CHECK_MS = 250

/** Children that die this soon after spawning, repeatedly, are respawned with a backoff. */
const QUICK_DEATH_MS = 1000
const BACKOFF_MAX_MS = 5000
/**
 * Signals a terminal (Ctrl-C) or a service manager sends a whole process group: the daemon got
 * one too and is about to stop, so a child they killed is replaced only after this long. Replaced
 * at once, new children started just to be closed again (about 170 ms of CPU per stop, measured).
 */
const GROUP_SIGNALS: ReadonlySet<string> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP'])
const GROUP_SIGNAL_WAIT_MS = 1000

export class ExecutorPool {
  private readonly slots: Slot[] = []
  /**
   * One more child, started only when needed, for split and reduce while every slot is busy:
   * each of them holds up a whole job, and a job's split or reduce waiting behind another job's
   * long tasks would make it wait for them (a short job behind a long one of the same code).
   * Idle, its child goes to the kept children (and expires with them).
   */
  private readonly control: Slot
  private readonly entry: string
  private readonly memoryLimitMB: number
  private readonly taskTimeoutMs: number
  private readonly niceness: number
  private readonly pipelineDepth: number
  private readonly maxQueued: number
  private readonly settingsEnv: Record<string, string>
  private readonly caps: MemoryCaps | undefined
  /** Each live child's memory cap (its cgroup's verdict on its death). */
  private readonly capOf = new Map<ExecutorProcess, ExecutorCap>()
  private readonly bwrapPaths: BwrapPaths | undefined
  private readonly logger: ExecutorPoolOptions['logger']
  private readonly byId = new Map<string, Pending>()
  // Regular queue: an array with a moving head (shift() is O(n)); settled entries are skipped.
  private queue: Array<Pending | undefined> = []
  private queueHead = 0
  private soloQueue: Pending[] = []
  private queuedCount = 0
  private readonly sandboxChoices = new Map<string, SandboxChoice>()
  /** The last profileOf question and its answer. */
  private lastProfile: { modulePath: string, scratchDir: string | undefined, tools: readonly string[] | undefined, network: boolean | undefined, env: TaskRequest['env'], answer: ReturnType<ExecutorPool['profileOf']> } | undefined
  /** Moving average of how long tasks ran in a child (starts high: unknown tasks are spread). */
  private recentTaskMs = PACK_BELOW_MS * 10
  /** Per job: how long its tasks recently ran here (unknown jobs count as long). */
  private readonly jobTaskMs = new Map<string, number>()
  /** Split and reduce requests not yet settled (queued or running), oldest first: the control child's candidates. */
  private readonly controlOps = new Set<Pending>()
  private restarts = 0
  private started = 0
  private died = 0
  private readonly killed: Record<string, number> = {}
  private dispatchScheduled = false
  private pausedAtMs: number | null = null
  private closed = false
  private retiring = false
  /** Every child not yet exited, killed ones included, so close() can wait for all of them. */
  private readonly children = new Set<ExecutorProcess>()
  private readonly sandboxPolicy: SandboxPolicy | undefined
  private readonly permissionFlag: string | undefined
  private readonly taskCpuMsMax: number | undefined
  private readonly resultBytesMax: number | undefined
  private readonly splitBytesMax: number | undefined
  private cpuTimer: NodeJS.Timeout | null = null
  /** The slot each child serves; a child that is kept as a spare has none. */
  private readonly slotOf = new Map<ExecutorProcess, Slot>()
  private spares: Spare[] = []
  private readonly sparesMax: number
  private readonly spareIdleMs: number
  private spareTimer: NodeJS.Timeout | null = null
  /** Children replaced to serve another job's profile (not failures). */
  profileSwitches = 0
  /** Of those, replaced by a kept child of the wanted profile instead of a new one. */
  spareReuses = 0

  constructor (opts: ExecutorPoolOptions) {
    if (!Number.isInteger(opts.slots) || opts.slots < 1) throw new RangeError(`slots must be a positive integer (got ${opts.slots})`)
    this.entry = opts.childEntry ?? defaultChildEntry()
    this.memoryLimitMB = opts.memoryLimitMB ?? 512
    this.taskTimeoutMs = opts.taskTimeoutMs ?? 60_000
    this.niceness = opts.niceness ?? 19
    this.pipelineDepth = Math.max(1, opts.pipelineDepth ?? 4)
    this.maxQueued = opts.maxQueued ?? 100_000
    this.logger = opts.logger
    this.taskCpuMsMax = opts.taskCpuMsMax
    this.resultBytesMax = opts.resultBytesMax
    this.splitBytesMax = opts.splitBytesMax ?? opts.resultBytesMax
    this.sparesMax = Math.max(0, opts.sparesMax ?? opts.slots * 2)
    this.spareIdleMs = opts.spareIdleMs ?? 60_000
    this.permissionFlag = opts.sandbox !== undefined ? permissionFlag() : undefined
    this.sandboxPolicy = this.permissionFlag !== undefined ? opts.sandbox : undefined
    if (opts.sandbox !== undefined && this.permissionFlag === undefined) this.logger?.warn({ node: process.version }, 'this Node has no permission model: task code runs without a sandbox')
    this.settingsEnv = { ...opts.env }
    if (opts.resultBytesMax !== undefined) this.settingsEnv[RESULT_BYTES_MAX_ENV] = String(opts.resultBytesMax)
    if (this.splitBytesMax !== undefined) this.settingsEnv[SPLIT_BYTES_MAX_ENV] = String(this.splitBytesMax)
    const capChoice = opts.memoryCap ?? 'auto'
    this.caps = capChoice === 'off' || process.platform !== 'linux' ? undefined : MemoryCaps.detect(capChoice === 'auto')
    this.bwrapPaths = this.sandboxPolicy?.mode === 'bwrap' ? { nodePath: process.execPath, packageJson: packageJsonAbove(this.entry) } : undefined
    const newSlot = (index: number): Slot => ({ index, exec: null, ready: false, inflight: new Map(), headSinceMs: 0, timer: null, quickDeaths: 0, profile: '', sandbox: undefined, headCpuMs: 0, spawnPending: false, held: false })
    for (let index = 0; index < opts.slots; index++) {
      const slot = newSlot(index)
      this.slots.push(slot)
      // Sandboxed children are started for a task's profile, when there is one.
      if (this.sandboxPolicy === undefined) this.spawn(slot)
    }
    this.control = newSlot(opts.slots)
    // Resident memory is watched on every node; CPU time where a limit is set.
    if (process.platform === 'linux') {
      this.cpuTimer = setInterval(() => this.checkLimits(), CPU_CHECK_MS)
      this.cpuTimer.unref()
    }
  }

  /** What boxes this pool's executors, as the node's banner says it: the sandbox and the memory cap. */
  get isolation (): { sandbox: string, memoryCap: string } {
    const policy = this.sandboxPolicy
    const sandbox = policy === undefined
      ? 'none: task code runs with every permission of this user'
      : `${policy.mode === 'bwrap' ? 'bubblewrap + ' : ''}Node permission model, network ${policy.allowNetwork === true ? 'for jobs that declare it' : 'off'}`
    const memoryCap = `${this.caps === undefined ? 'resident memory watched' : `${this.caps.describe()} + resident memory watched`} (${this.memoryLimitMB} MB per executor)`
    return { sandbox, memoryCap }
  }

  /** The sandbox profile of a task, or the reason it may not run on this node. */
  private profileOf (req: Pick<TaskRequest, 'modulePath' | 'ctx' | 'workspaceDir' | 'tools' | 'network' | 'env'>): { profile: string, sandbox: Sandbox | undefined } | { error: string } {
    if (this.sandboxPolicy === undefined) return { profile: '', sandbox: undefined }
    const scratchDir = req.workspaceDir ?? (typeof req.ctx.scratchDir === 'string' ? req.ctx.scratchDir : undefined)
    // Tasks come in runs of one job: the same question as the last task's is answered without
    // building its key (that string per task was 4 % of a coordinator's CPU for empty tasks).
    const last = this.lastProfile
    if (last !== undefined && last.modulePath === req.modulePath && last.scratchDir === scratchDir && sameTools(last.tools, req.tools) && last.network === req.network && last.env === req.env) return last.answer
    // Every task of a job asks the same question: answered once (the paths are resolved and joined per call).
    const key = `${req.modulePath}\0${scratchDir ?? ''}\0${req.tools?.join(',') ?? ''}\0${req.network === true ? 'net' : ''}\0${req.env !== undefined ? JSON.stringify(req.env) : ''}`
    let choice = this.sandboxChoices.get(key)
    if (choice === undefined) {
      if (this.sandboxChoices.size >= SANDBOX_CHOICES_MAX) this.sandboxChoices.clear()
      choice = sandboxFor(this.sandboxPolicy, { childEntry: this.entry, modulePath: req.modulePath, scratchDir, tools: req.tools, network: req.network, env: req.env })
      this.sandboxChoices.set(key, choice)
    }
    const answer = choice.ok ? { profile: choice.sandbox.key, sandbox: choice.sandbox } : { error: choice.error }
    this.lastProfile = { modulePath: req.modulePath, scratchDir, tools: req.tools, network: req.network, env: req.env, answer }
    return answer
  }

  /**
   * Starts executors for the sandbox profile a job's tasks will need, before they arrive: a child
   * takes ~100 ms to start (more on a busy machine), and a job whose code has not run here lately
   * needs new ones, as the profile includes its code's workspace. Only idle children are
   * replaced, and only when nothing is queued; without a sandbox every child serves every job.
   */
  prepare (req: Pick<TaskRequest, 'modulePath' | 'ctx' | 'workspaceDir' | 'tools' | 'network' | 'env'>): void {
    if (this.sandboxPolicy === undefined || this.closed || this.pausedAtMs !== null) return
    if (this.queuedCount > 0 || this.soloQueue.length > 0) return
    const profile = this.profileOf(req)
    if ('error' in profile) return
    for (const slot of this.slots) {
      if (slot.profile === profile.profile || slot.inflight.size > 0 || slot.spawnPending) continue
      if (slot.exec === null) this.startFor(slot, profile.sandbox)
      else this.switchProfile(slot, profile.sandbox)
    }
  }

  run (req: TaskRequest): Promise<TaskOutcome> {
    return new Promise<TaskOutcome>(resolve => {
      if (this.closed) return resolve(aborted('executor pool closed'))
      if (this.queuedCount >= this.maxQueued) return resolve(aborted('executor queue full'))
      if (this.byId.has(req.id)) return resolve(aborted(`duplicate task id ${req.id}`))
      const profile = this.profileOf(req)
      if ('error' in profile) return resolve({ ok: false, kind: 'denied', error: profile.error, durationMs: 0 })
      const p: Pending = { req, resolve, state: 'queued', solo: false, profile: profile.profile, sandbox: profile.sandbox }
      this.byId.set(req.id, p)
      if (req.op !== 'map') this.controlOps.add(p)
      this.queue.push(p)
      this.queuedCount++
      this.scheduleDispatch()
    })
  }

  abort (id: string): boolean {
    const p = this.byId.get(id)
    if (p === undefined) return false
    if (p.state === 'queued') {
      this.queuedCount--
      this.settle(p, aborted('task aborted'))
      return true
    }
    const slot = p.slot
    if (slot === undefined) return false
    const runningMs = this.headOf(slot) === p ? performance.now() - slot.headSinceMs : 0
    slot.inflight.delete(id)
    this.settle(p, aborted('task aborted', runningMs))
    // We cannot tell whether the child has started it: kill, and re-run its other tasks elsewhere.
    this.replace(slot, 'abort', (others) => this.requeueFront(others))
    return true
  }

  stats (): ExecutorPoolStats {
    let slotsBusy = 0
    let slotsReady = 0
    let running = 0
    const pids: number[] = []
    for (const slot of this.slots) {
      if (slot.inflight.size > 0) slotsBusy++
      if (slot.exec !== null && slot.ready) slotsReady++
      running += slot.inflight.size
      if (slot.exec !== null) pids.push(...slot.exec.pids())
    }
    running += this.control.inflight.size
    for (const exec of [this.control.exec, ...this.spares.map(s => s.exec)]) if (exec !== null) pids.push(...exec.pids())
    return { slotsTotal: this.slots.length, slotsBusy, slotsReady, spares: this.spares.length, running, queued: this.queuedCount, restarts: this.restarts, started: this.started, died: this.died, killed: { ...this.killed }, pids }
  }

  /**
   * SIGSTOP the children running tasks (the owner-yield policy); their timeouts do not run while
   * paused, and nothing new is sent to them. Kept idle children are stopped for good: the owner
   * wants the memory back. A job's split and reduce are not paused: they are its coordinator's
   * own work, which every other node's tasks wait on (docs/ARCHITECTURE.md, "A yielding
   * coordinator"). They run on the control child, at nice 19 like every executor; one already
   * running in a slot's child finishes there before that child is stopped.
   */
  pause (): void {
    if (this.pausedAtMs !== null || this.closed) return
    this.pausedAtMs = performance.now()
    this.dropSpares(0)
    // An idle control child is a kept child like any other: stopped for good (a split or reduce starts another).
    if (this.control.inflight.size === 0) this.parkControl()
    for (const slot of this.slots) this.hold(slot)
  }

  resume (): void {
    if (this.pausedAtMs === null) return
    const pausedMs = performance.now() - this.pausedAtMs
    this.pausedAtMs = null
    for (const slot of this.slots) {
      if (!slot.held) continue
      slot.held = false
      slot.exec?.cont()
      slot.headSinceMs += pausedMs
      if (slot.inflight.size > 0) this.armTimer(slot)
    }
    this.scheduleDispatch()
  }

  /** Stops a slot's child for the pause, unless it runs a split or reduce (then once that is done). */
  private hold (slot: Slot): void {
    if (slot.held || slot.exec === null || this.pausedAtMs === null || this.closed) return
    for (const p of slot.inflight.values()) if (p.req.op !== 'map') return
    slot.held = true
    slot.exec.stop()
  }

  /** The node is stopping: no child is started any more (the running ones finish or are aborted by close). */
  retire (): void {
    this.retiring = true
  }

  async close (): Promise<void> {
    if (!this.closed) {
      this.closed = true
      if (this.cpuTimer !== null) clearInterval(this.cpuTimer)
      this.dropSpares(0)
      for (const p of [...this.byId.values()]) this.settle(p, aborted('executor pool closed'))
      this.queue = []
      this.queueHead = 0
      this.soloQueue.length = 0
      this.queuedCount = 0
      for (const slot of this.allSlots()) {
        slot.inflight.clear()
        if (slot.timer !== null) clearTimeout(slot.timer)
        slot.timer = null
        slot.exec?.kill()
        slot.exec = null
      }
    }
    await Promise.all([...this.children].map(async exec => await exec.exited))
    this.caps?.close()
  }

  // ---- dispatch ----

  private scheduleDispatch (): void {
    if (this.dispatchScheduled || this.closed) return
    this.dispatchScheduled = true
    setImmediate(() => {
      this.dispatchScheduled = false
      this.dispatch()
    })
  }

  private dispatch (): void {
    if (this.soloQueue.length > 0) this.soloQueue = this.soloQueue.filter(p => p.state === 'queued')
    const batches = new Map<Slot, WireTask[]>()
    const batchOf = (slot: Slot): WireTask[] => {
      let batch = batches.get(slot)
      if (batch === undefined) batches.set(slot, batch = [])
      return batch
    }
    if (this.pausedAtMs !== null) {
      // Yielding to the owner: tasks wait here for the resume; a split or reduce runs anyway.
      this.dispatchControl(batchOf)
      for (const [slot, tasks] of batches) if (tasks.length > 0) slot.exec?.send({ t: 'run', tasks: packTasks(tasks) })
      return
    }
    const fillable: Slot[] = []
    for (const slot of this.slots) {
      if (slot.exec === null) {
        // A sandboxed slot starts its child for the first task that needs one.
        if (this.sandboxPolicy !== undefined && !this.closed && !slot.spawnPending) {
          const next = this.soloQueue[0] ?? this.peekQueued()
          if (next !== undefined) this.startFor(slot, next.sandbox)
        }
        continue
      }
      if (!slot.ready) continue
      if (this.soloQueue.length > 0) {
        // Suspects run one per child; other slots drain so a suspect is never starved.
        if (slot.inflight.size === 0) {
          const head = this.soloQueue[0] as Pending
          if (head.profile !== slot.profile) this.switchProfile(slot, head.sandbox)
          else this.sendTo(slot, this.takeSolo(), batchOf(slot))
        }
      } else if (!this.headOf(slot)?.solo) fillable.push(slot)
    }
    // The oldest queued task needs a profile no child has (another job's): the least busy child
    // takes no more tasks, so it goes idle and is replaced. Otherwise the children's own job,
    // feeding them task after task, would overtake that task for as long as it had tasks.
    const head = this.soloQueue.length === 0 && fillable.length > 0 ? this.peekQueued() : undefined
    if (head !== undefined && !this.slots.some(s => s.profile === head.profile && (s.exec !== null || s.spawnPending))) {
      let drain = fillable[0] as Slot
      for (const slot of fillable) if (slot.inflight.size < drain.inflight.size) drain = slot
      fillable.splice(fillable.indexOf(drain), 1)
      if (drain.inflight.size === 0) this.switchProfile(drain, head.sandbox)
    }
    if (this.recentTaskMs < PACK_BELOW_MS) {
      // Tiny tasks: packed into the first children, which wakes fewer processes and sends fewer
      // IPC messages than spreading them (a child runs them faster than the daemon sends them).
      // Only a job known to run short tasks here is packed; another job's task goes to an idle child.
      for (const slot of fillable) {
        while (slot.inflight.size < this.pipelineDepth * PACKED_DEPTH_FACTOR && this.queuedCount > 0) {
          const p = this.takeQueued(slot.profile, undefined, slot.inflight.size > 0)
          if (p === undefined) break
          this.sendTo(slot, p, batchOf(slot))
        }
      }
    } else {
      // Level by level: every child gets a first task before any gets a second, so a long task
      // never waits behind another in one child while a sibling child idles. An idle child takes
      // split and reduce first (each holds up a whole job), then a job with nothing running here.
      const running = this.jobsInFlight()
      const now = performance.now()
      for (let depth = 1; depth <= this.pipelineDepth && this.queuedCount > 0; depth++) {
        for (const slot of fillable) {
          if (slot.inflight.size >= depth) continue
          if (depth === 1) this.sendTo(slot, this.takeQueued(slot.profile, running), batchOf(slot))
          else if (now - slot.headSinceMs < PIPELINE_BELOW_MS) this.sendTo(slot, this.takeQueued(slot.profile, undefined, true), batchOf(slot))
        }
      }
    }
    for (const slot of fillable) {
      if (slot.inflight.size === 0) {
        // Idle, and nothing queued for its profile: restart it for the next task's profile.
        const next = this.peekQueued()
        if (next !== undefined) this.switchProfile(slot, next.sandbox)
      }
    }
    this.dispatchControl(batchOf)
    for (const [slot, tasks] of batches) if (tasks.length > 0) slot.exec?.send({ t: 'run', tasks: packTasks(tasks) })
  }

  private allSlots (): Slot[] { return [...this.slots, this.control] }

  /** A split or reduce still queued once every slot is busy runs on the control child, one at a time. */
  private dispatchControl (batchOf: (slot: Slot) => WireTask[]): void {
    const c = this.control
    // Suspects drain the slots first; while paused the slots run nothing, so the control child goes on.
    if (this.closed || c.inflight.size > 0 || c.spawnPending || (this.soloQueue.length > 0 && this.pausedAtMs === null)) return
    let next: Pending | undefined
    for (const p of this.controlOps) if (p.state === 'queued') { next = p; break }
    if (next === undefined) return
    if (c.exec === null) this.startFor(c, next.sandbox)
    else if (c.profile !== next.profile) this.switchProfile(c, next.sandbox)
    if (c.exec === null || !c.ready) return // it says 'ready' soon, and the dispatch runs again
    const at = this.queue.indexOf(next, this.queueHead)
    if (at >= 0) return this.sendTo(c, this.removeQueuedAt(at), batchOf(c))
    const solo = this.soloQueue.indexOf(next)
    if (solo >= 0) this.sendTo(c, this.soloQueue.splice(solo, 1)[0], batchOf(c))
  }

  private sendTo (slot: Slot, p: Pending | undefined, batch: WireTask[]): void {
    if (p === undefined) return
    if (slot.inflight.size === 0) {
      slot.headSinceMs = performance.now()
      slot.headCpuMs = this.cpuMsOf(slot)
      this.armTimer(slot)
    }
    p.state = 'inflight'
    p.slot = slot
    slot.inflight.set(p.req.id, p)
    this.queuedCount--
    const { id, op, modulePath, codeHash, arg, ctx, group, argFile, combine } = p.req
    // JSON would turn a Buffer into an array of numbers: send bytes as base64 (stored input goes as a file).
    const task: WireTask = argFile !== undefined
      ? { id, op, modulePath, codeHash, argFile, ctx }
      : arg instanceof Uint8Array
        ? { id, op, modulePath, codeHash, argBase64: Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength).toString('base64'), ctx }
        : { id, op, modulePath, codeHash, arg, ctx }
    // The child runs a group for a map task only (see WireTask.group).
    if (group !== undefined) {
      task.group = group
      if (combine === true && op === 'map') task.combine = true
    }
    batch.push(task)
  }

  /**
   * The first queued task of `profile` (looking a bounded way past the head for one). With
   * `running`: a split or reduce, or a task of a job not in `running`, goes before the first one
   * (whose job is then added to `running`). With `shortOnly` (a task sent ahead to a busy child):
   * only a task of a job known to run short tasks here, and none past another profile's task.
   */
  private takeQueued (profile: string, running?: Set<string>, shortOnly = false): Pending | undefined {
    this.skipSettled()
    const end = Math.min(this.queue.length, this.queueHead + PROFILE_LOOKAHEAD)
    let first = -1
    for (let i = this.queueHead; i < end; i++) {
      const p = this.queue[i]
      if (p === undefined || p.state !== 'queued') continue
      // Sent ahead, a task must not overtake another profile's waiting task (see the drain rule).
      if (p.profile !== profile) { if (shortOnly) break; continue }
      if (shortOnly && !((this.jobTaskMs.get(jobOf(p)) ?? Infinity) < PIPELINE_BELOW_MS)) continue
      if (running === undefined || p.req.op !== 'map' || !running.has(jobOf(p))) { first = i; break }
      if (first < 0) first = i
    }
    if (first < 0) return undefined
    const p = this.removeQueuedAt(first)
    running?.add(jobOf(p))
    return p
  }

  /** Takes the task at `i` of the regular queue out of it. */
  private removeQueuedAt (i: number): Pending {
    const p = this.queue[i] as Pending
    this.queue[i] = undefined
    if (i === this.queueHead) this.queueHead++
    this.compactQueue()
    return p
  }

  /** The jobs with a task in a child now. */
  private jobsInFlight (): Set<string> {
    const jobs = new Set<string>()
    for (const slot of this.allSlots()) for (const p of slot.inflight.values()) jobs.add(jobOf(p))
    return jobs
  }

  private peekQueued (): Pending | undefined {
    this.skipSettled()
    const end = Math.min(this.queue.length, this.queueHead + PROFILE_LOOKAHEAD)
    for (let i = this.queueHead; i < end; i++) {
      const p = this.queue[i]
      if (p !== undefined && p.state === 'queued') return p
    }
    return undefined
  }

  private skipSettled (): void {
    while (this.queueHead < this.queue.length) {
      const p = this.queue[this.queueHead]
      if (p !== undefined && p.state === 'queued') return
      this.queue[this.queueHead++] = undefined
    }
    this.queue = []
    this.queueHead = 0
  }

  private takeSolo (): Pending | undefined {
    return this.soloQueue.shift()
  }

  private compactQueue (): void {
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
  }

  /** Innocent tasks from a killed child go back to the front, in their original order. */
  private requeueFront (ps: Pending[]): void {
    const live = ps.filter(p => p.state === 'inflight')
    for (const p of live) { p.state = 'queued'; p.slot = undefined; this.queuedCount++ }
    const solo = live.filter(p => p.solo)
    this.soloQueue.unshift(...solo)
    const regular = live.filter(p => !p.solo)
    this.queue = [...regular, ...this.queue.slice(this.queueHead)]
    this.queueHead = 0
    this.scheduleDispatch()
  }

  /** Tasks in flight on a child that died for an unknown reason: one of them did it; isolate each. */
  private requeueSolo (ps: Pending[]): void {
    for (const p of ps) {
      if (p.state !== 'inflight') continue
      p.state = 'queued'
      p.solo = true
      p.slot = undefined
      this.queuedCount++
      this.soloQueue.push(p)
    }
    this.scheduleDispatch()
  }

  // ---- results ----

  private onMessage (slot: Slot, exec: ExecutorProcess, msg: ChildMessage): void {
    if (slot.exec !== exec) return
    if (msg.t === 'ready') {
      slot.ready = true
      this.scheduleDispatch()
      return
    }
    slot.quickDeaths = 0
    const logs = msg.logs !== undefined && msg.logs.length > 0 ? new Map(msg.logs) : undefined
    for (const packed of msg.results) {
      const r = unpackResult(packed)
      const p = slot.inflight.get(r.id)
      if (p === undefined) continue
      slot.inflight.delete(r.id)
      this.recentTaskMs += (r.durationMs - this.recentTaskMs) * RECENT_TASK_WEIGHT
      this.rememberTaskMs(jobOf(p), r.durationMs)
      const outcome = this.fromWire(r, p.req.op, p.req.rawResult === true)
      const output = logs?.get(r.id)
      this.settle(p, output !== undefined ? { ...outcome, logs: output } : outcome)
    }
    // The child flushes before starting a task once results have waited a few ms, so the next
    // in-flight task started about now.
    slot.headSinceMs = performance.now()
    slot.headCpuMs = this.cpuMsOf(slot)
    // The control child, idle again, is kept like any replaced child: it expires unless another
    // split or reduce of its code takes it back first.
    if (slot === this.control && slot.inflight.size === 0) this.parkControl()
    else if (slot !== this.control) this.hold(slot)
    this.scheduleDispatch()
  }

  private parkControl (): void {
    if (this.closed) return
    const spare = this.detachIdle(this.control)
    if (spare !== undefined) this.keepSpare(spare)
  }

  private rememberTaskMs (job: string, durationMs: number): void {
    const previous = this.jobTaskMs.get(job)
    if (previous === undefined && this.jobTaskMs.size >= JOBS_REMEMBERED_MAX) this.jobTaskMs.clear()
    this.jobTaskMs.set(job, previous === undefined ? durationMs : previous + (durationMs - previous) * 0.25)
  }

  private settle (p: Pending, outcome: TaskOutcome): void {
    if (p.state === 'settled') return
    p.state = 'settled'
    this.controlOps.delete(p)
    p.slot = undefined
    this.byId.delete(p.req.id)
    p.resolve(outcome)
  }

  private headOf (slot: Slot): Pending | undefined {
    for (const p of slot.inflight.values()) return p
    return undefined
  }

  // ---- timeouts ----

  /** One lazy timer per slot: when it fires it re-checks the current head, so fast tasks cost no timer churn. */
  private armTimer (slot: Slot): void {
    if (slot.timer !== null) return
    const dueInMs = Math.max(0, slot.headSinceMs + this.taskTimeoutMs - performance.now())
    slot.timer = setTimeout(() => {
      slot.timer = null
      this.checkTimeout(slot)
    }, dueInMs + 1)
    slot.timer.unref()
  }

  private checkTimeout (slot: Slot): void {
    if (slot.inflight.size === 0 || slot.held || this.closed) return
    const runningMs = performance.now() - slot.headSinceMs
    if (runningMs < this.taskTimeoutMs) return this.armTimer(slot)
    this.replace(slot, 'timeout', (unanswered) => {
      const culprit = unanswered.length === 1 ? unanswered[0] : undefined
      if (culprit !== undefined) {
        this.settle(culprit, { ok: false, kind: 'timeout', error: `task ran longer than ${this.taskTimeoutMs} ms; executor killed and restarted`, durationMs: runningMs })
      } else {
        this.requeueSolo(unanswered)
      }
    })
  }

  /** CPU time used by a slot's child and what it started (user + system, from /proc), or 0 where unknown. */
  private cpuMsOf (slot: Slot): number {
    if (this.taskCpuMsMax === undefined || slot.exec === null) return 0
    return treeUsage(slot.exec.pids()).cpuMs
  }

  /** Kills a busy child over its CPU-time or resident-memory limit, failing its task as 'cpu-limit' or 'oom'. */
  private checkLimits (): void {
    if (this.closed) return
    const cpuMax = this.taskCpuMsMax
    const rssMax = this.memoryLimitMB * 1024 * 1024
    for (const slot of this.allSlots()) {
      if (slot.inflight.size === 0 || slot.exec === null || slot.held) continue
      const usage = treeUsage(slot.exec.pids())
      let kind: 'cpu-limit' | 'oom' | undefined
      let error = ''
      if (usage.rssBytes > rssMax) {
        kind = 'oom'
        error = `task ran out of memory: the executor used ${Math.round(usage.rssBytes / 1048576)} MB resident, over its limit of ${this.memoryLimitMB} MB (--memory-limit-mb); executor killed and restarted`
      } else if (cpuMax !== undefined && usage.cpuMs - slot.headCpuMs > cpuMax) {
        kind = 'cpu-limit'
        error = `task used more than ${cpuMax} ms of CPU time (--task-cpu-ms); executor killed and restarted`
      }
      if (kind === undefined) continue
      const failKind = kind
      this.replace(slot, kind === 'oom' ? 'memory' : 'cpu', (unanswered) => {
        const culprit = unanswered.length === 1 ? unanswered[0] : undefined
        if (culprit !== undefined) this.settle(culprit, { ok: false, kind: failKind, error, durationMs: performance.now() - slot.headSinceMs })
        else this.requeueSolo(unanswered)
      })
    }
  }

  private fromWire (r: WireResult, op: TaskOp, raw: boolean): TaskOutcome {
    const bytesMax = op === 'split' ? this.splitBytesMax : this.resultBytesMax
    const size = r.ok ? r.json.length + (r.group?.reduce((n, j) => n + j.length, 0) ?? 0) : 0
    if (r.ok && bytesMax !== undefined && size > bytesMax) {
      return { ok: false, kind: 'too-large', error: `result of ${size} bytes exceeds the node's limit of ${bytesMax} bytes (${sizeLimitFlag(op)})`, durationMs: r.durationMs }
    }
    if (!r.ok) return { ok: false, kind: r.kind, error: r.error, durationMs: r.durationMs, ...(r.stack !== undefined ? { stack: r.stack } : {}) }
    return raw ? resultOf(r, text => new RawJson(text)) : parsedResult(r)
  }

  // ---- child lifecycle ----

  /**
   * An idle child of another profile is replaced by one with the permissions `sandbox` needs: a
   * kept child of that profile if there is one, else a new one. The idle child is kept in turn.
   */
  private switchProfile (slot: Slot, sandbox: Sandbox | undefined): void {
    if (slot.inflight.size > 0 || this.closed) return
    const spare = this.detachIdle(slot)
    if (spare === undefined) return
    this.profileSwitches++
    this.startFor(slot, sandbox)
    this.keepSpare(spare)
  }

  /** Takes an idle slot's child out of it, as a spare to keep (the caller keeps it, or not). */
  private detachIdle (slot: Slot): Spare | undefined {
    const exec = slot.exec
    if (exec === null) return undefined
    const spare: Spare = { exec, sandbox: slot.sandbox, profile: slot.profile, ready: slot.ready, parkedAtMs: performance.now() }
    this.detach(slot)
    return spare
  }

  /** Give `slot` a child for `sandbox`'s profile: a kept one if there is one (it may be ready at once), else a new one. */
  private startFor (slot: Slot, sandbox: Sandbox | undefined): void {
    const profile = sandbox?.key ?? ''
    const i = this.spares.findIndex(s => s.profile === profile)
    if (i < 0 || this.closed) return this.spawn(slot, sandbox)
    const [spare] = this.spares.splice(i, 1) as [Spare]
    this.spareReuses++
    slot.sandbox = spare.sandbox
    slot.profile = spare.profile
    slot.exec = spare.exec
    slot.ready = spare.ready
    this.slotOf.set(spare.exec, slot)
    if (slot.ready) this.scheduleDispatch()
  }

  private keepSpare (spare: Spare): void {
    if (this.sparesMax === 0 || this.pausedAtMs !== null || this.closed) return spare.exec.kill()
    this.spares.push(spare)
    this.dropSpares(this.sparesMax)
    if (this.spareTimer === null) {
      this.spareTimer = setTimeout(() => this.expireSpares(), this.spareIdleMs)
      this.spareTimer.unref()
    }
  }

  /** Stops the oldest kept children until at most `keep` are left. */
  private dropSpares (keep: number): void {
    while (this.spares.length > keep) this.spares.shift()?.exec.kill()
    if (this.spares.length === 0 && this.spareTimer !== null) {
      clearTimeout(this.spareTimer)
      this.spareTimer = null
    }
  }

  private expireSpares (): void {
    this.spareTimer = null
    const now = performance.now()
    while (this.spares.length > 0 && now - (this.spares[0] as Spare).parkedAtMs >= this.spareIdleMs) this.spares.shift()?.exec.kill()
    const oldest = this.spares[0]
    if (oldest === undefined) return
    this.spareTimer = setTimeout(() => this.expireSpares(), Math.max(1, oldest.parkedAtMs + this.spareIdleMs - now))
    this.spareTimer.unref()
  }

  private spawn (slot: Slot, sandbox: Sandbox | undefined = slot.sandbox): void {
    if (this.closed || this.retiring) return
    slot.sandbox = sandbox
    slot.profile = sandbox?.key ?? ''
    const boxed = sandbox !== undefined && this.permissionFlag !== undefined
    const cap = this.caps?.forExecutor(this.memoryLimitMB)
    const settings = boxed && sandbox.tools.length > 0 ? { ...this.settingsEnv, [TOOLS_ENV]: sandbox.tools.join(',') } : this.settingsEnv
    const exec: ExecutorProcess = spawnExecutor({
      entry: this.entry,
      memoryLimitMB: this.memoryLimitMB,
      niceness: this.niceness,
      env: executorEnv({ from: process.env, home: sandbox?.home, jobEnv: sandbox?.env ?? {}, settings }),
      execArgv: boxed ? sandboxExecArgv(sandbox, this.permissionFlag as string) : [],
      wrappers: [...(cap?.prefix ?? []), ...(boxed && sandbox.mode === 'bwrap' && this.bwrapPaths !== undefined ? [BWRAP, ...bwrapArgs(sandbox, this.bwrapPaths)] : [])],
      onMessage: (msg) => this.onChildMessage(exec, msg),
      onGone: (code, signal) => this.onChildGone(exec, code, signal),
    })
    if (cap !== undefined) this.capOf.set(exec, cap)
    this.started++
    slot.exec = exec
    this.slotOf.set(exec, slot)
    slot.ready = false
    this.children.add(exec)
    void exec.exited.then(() => this.children.delete(exec))
    if (this.pausedAtMs !== null && slot !== this.control) {
      slot.held = true
      exec.stop()
    }
    this.logger?.info({ slot: slot.index, pid: exec.proc.pid }, 'executor started')
  }

  /** Kill the slot's child on purpose, hand its unanswered tasks to `then`, start a new child. */
  private replace (slot: Slot, reason: 'timeout' | 'abort' | 'cpu' | 'memory' | 'protocol', then: (unanswered: Pending[]) => void): void {
    const exec = slot.exec
    if (exec === null) return
    const unanswered = this.detach(slot)
    exec.kill()
    this.logger?.warn({ slot: slot.index, pid: exec.proc.pid, reason, unanswered: unanswered.length }, 'executor killed')
    then(unanswered)
    this.killed[reason] = (this.killed[reason] ?? 0) + 1
    this.restarts++
    this.spawn(slot)
  }

  /** A child's message goes to the slot it serves now; a kept child only says it is ready. A malformed one ends the child. */
  private onChildMessage (exec: ExecutorProcess, raw: unknown): void {
    const parsed = parseChildMessage(raw)
    const slot = this.slotOf.get(exec)
    if (!parsed.ok) return this.onMalformed(exec, slot, parsed.error)
    const msg = parsed.message
    if (slot !== undefined) return this.onMessage(slot, exec, msg)
    const spare = this.spares.find(s => s.exec === exec)
    if (spare !== undefined && msg.t === 'ready') spare.ready = true
  }

  /** Fails what the child had in flight as 'protocol' (its task wrote to the channel, or the child is broken) and replaces it. */
  private onMalformed (exec: ExecutorProcess, slot: Slot | undefined, error: string): void {
    this.logger?.warn({ pid: exec.proc.pid, error }, 'executor sent a malformed message: killed')
    if (slot === undefined || slot.exec !== exec) {
      this.spares = this.spares.filter(s => s.exec !== exec)
      return exec.kill()
    }
    this.replace(slot, 'protocol', (unanswered) => {
      for (const p of unanswered) this.settle(p, { ok: false, kind: 'protocol', error: `${error}; executor killed`, durationMs: performance.now() - slot.headSinceMs })
    })
  }

  private onChildGone (exec: ExecutorProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const slot = this.slotOf.get(exec)
    this.slotOf.delete(exec)
    // The cgroup's verdict is read before the cgroup goes.
    const cap = this.capOf.get(exec)
    const oomKilled = cap?.oomKilled() === true
    cap?.dispose()
    this.capOf.delete(exec)
    if (slot !== undefined) return this.onGone(slot, exec, code, signal, oomKilled)
    // A kept child died idle (the OOM killer, an operator): nothing ran on it; just forget it.
    this.spares = this.spares.filter(s => s.exec !== exec)
  }

  /** The child died by itself: blame its only unanswered task, or isolate all of them. */
  private onGone (slot: Slot, exec: ExecutorProcess, code: number | null, signal: NodeJS.Signals | null, oomKilled: boolean): void {
    if (slot.exec !== exec || this.closed) return
    const runningMs = performance.now() - slot.headSinceMs
    const unanswered = this.detach(slot)
    const verdict = classifyDeath(code, signal, exec.stderrTail(), this.memoryLimitMB, oomKilled)
    const fields = { slot: slot.index, pid: exec.proc.pid, code, signal, kind: verdict.kind, unanswered: unanswered.length, error: verdict.error }
    // A group signal is most likely this node stopping: expected, not a warning.
    const groupSignal = signal !== null && GROUP_SIGNALS.has(signal)
    if (groupSignal) this.logger?.info(fields, 'executor died')
    else {
      this.logger?.warn(fields, 'executor died')
      this.died++
    }
    const culprit = unanswered.length === 1 ? unanswered[0] : undefined
    if (culprit !== undefined) this.settle(culprit, { ok: false, kind: verdict.kind, error: verdict.error, durationMs: runningMs })
    else this.requeueSolo(unanswered)

    this.restarts++
    const quick = performance.now() - exec.spawnedAtMs < QUICK_DEATH_MS
    slot.quickDeaths = quick ? slot.quickDeaths + 1 : 0
    // A child that cannot even start must not become a fork loop.
    const delayMs = groupSignal
      ? GROUP_SIGNAL_WAIT_MS
      : slot.quickDeaths > 2 ? Math.min(BACKOFF_MAX_MS, 100 * 2 ** (slot.quickDeaths - 2)) : 0
    if (delayMs === 0) return this.spawn(slot)
    slot.spawnPending = true
    setTimeout(() => { slot.spawnPending = false; this.spawn(slot) }, delayMs).unref()
  }

  private detach (slot: Slot): Pending[] {
    const unanswered = [...slot.inflight.values()]
    if (slot.exec !== null) this.slotOf.delete(slot.exec)
    slot.inflight.clear()
    slot.exec = null
    slot.ready = false
    slot.held = false
    if (slot.timer !== null) clearTimeout(slot.timer)
    slot.timer = null
    return unanswered
  }
}

/** The job a task belongs to ('' when its context names none). */
function jobOf (p: Pending): string {
  const jobId = p.req.ctx.jobId
  return typeof jobId === 'string' ? jobId : ''
}

/** A success's value, each JSON text decoded by `decode`; a group's is the list of its tasks' values. */
function resultOf (r: Extract<WireResult, { ok: true }>, decode: (json: string) => unknown): TaskOutcome {
  const value = r.group !== undefined ? [decode(r.json), ...r.group.map(decode)] : decode(r.json)
  return { ok: true, value, durationMs: r.durationMs, ...(r.combined === true ? { combined: true as const } : {}) }
}

/** A success parsed; text that is not JSON (task code can write to the channel) is a protocol failure, not a crash. */
function parsedResult (r: Extract<WireResult, { ok: true }>): TaskOutcome {
  try {
    return resultOf(r, json => JSON.parse(json))
  } catch (err) {
    return { ok: false, kind: 'protocol', error: `the executor answered with a result that is not JSON: ${(err as Error).message}`, durationMs: r.durationMs }
  }
}

function aborted (error: string, durationMs = 0): TaskOutcome {
  return { ok: false, kind: 'aborted', error, durationMs }
}

/** Whether two tasks ask for the same tools (in the same order, as the profile key lists them). */
function sameTools (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true
  if (a === undefined || b === undefined || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The package.json that makes the child entry's .js files ES modules (bound into the OS sandbox). */
/** Whether bubblewrap can box an executor on this machine, as the pool would run it (one boxed Node). */
export function probeExecutorSandbox (childEntry = defaultChildEntry()): BwrapProbe {
  return probeBwrap({ nodePath: process.execPath, packageJson: packageJsonAbove(childEntry) })
}

function packageJsonAbove (entry: string): string | undefined {
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json')
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) return undefined
  }
}
