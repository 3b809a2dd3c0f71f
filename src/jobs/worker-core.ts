import type { FailureKind } from './failure-kinds.js'
import type { RpcMessage } from './wire.js'
import type { TaskLogs } from './task-logs.js'

// The worker role of a node, sans IO: which assignments it runs, refuses or hands back, and
// what it answers. Coordinator terms are remembered per job (bounded) so that an assignment
// from a coordinator that was taken over is refused, and a takeover abandons the old
// coordinator's attempts. Executors, code caches and networks are the binding's business: the
// daemon's TaskWorker runs `run` effects in its executor pool, the simulator in its model of one.

export type Assign = Extract<RpcMessage, { t: 'task.assign' }>

/** task.failed kind of a task handed back unrun (owner busy, draining): not a failure, re-place it. */
export const RETURNED_KIND = 'returned' satisfies FailureKind
/** task.failed kind of an assignment from a coordinator older than the job's newest term. */
export const STALE_TERM_KIND = 'stale-term' satisfies FailureKind
/** The executor outcome of an attempt stopped on request (its coordinator no longer waits for it). */
export const ABORTED_KIND = 'aborted' satisfies FailureKind

/**
 * How an attempt ended in its executor; a group's value is every task's result, its own first,
 * or, `combined`, the job's combine() over them all.
 */
export type ExecOutcome = ({ ok: true, value: unknown, durationMs: number, combined?: boolean } | { ok: false, kind: FailureKind, error: string, stack?: string }) & { logs?: TaskLogs }

export type WorkerEffect =
  | { type: 'send', to: string, message: RpcMessage }
  /** Start the attempt in an executor; its end comes back as `finished`. */
  | { type: 'run', from: string, task: Assign }
  /** Stop the attempt (running or queued for an executor); its end still comes back as `finished`. */
  | { type: 'abort', attemptId: string }

export interface WorkerCoreConfig {
  /** Jobs whose newest coordinator term is remembered (oldest forgotten first). */
  termsMax: number
  /** Most assignments waiting for their job's code at once. */
  waitingForCodeMax: number
  /** Longest error text sent back. */
  errorLengthMax: number
}

export const DEFAULT_WORKER_CONFIG: WorkerCoreConfig = { termsMax: 10_000, waitingForCodeMax: 10_000, errorLengthMax: 16_000 }

export class WorkerCore {
  /** attemptId → the coordinator that assigned it, and the assignment. */
  private readonly running = new Map<string, { from: string, task: Assign }>()
  /** jobId → the highest coordinator term seen: assignments from older terms are refused. */
  private readonly jobTerms = new Map<string, number>()
  /** code hash → assignments waiting for that code. */
  private readonly waitingForCode = new Map<string, Array<{ from: string, task: Assign }>>()
  private waitingCount = 0
  /** Attempts being handed back: their end is reported as RETURNED_KIND. */
  private readonly returning = new Set<string>()
  private readonly config: WorkerCoreConfig
  /** Tasks whose attempt ended in an executor (a group counts each of its tasks). */
  tasksRun = 0
  /** Attempts handed back unrun or stopped to be placed elsewhere. */
  tasksReturned = 0

  constructor (config: Partial<WorkerCoreConfig> = {}) {
    this.config = { ...DEFAULT_WORKER_CONFIG, ...config }
  }

  get runningCount (): number { return this.running.size }

  /** The newest coordinator term this worker knows for the job (0: none yet). */
  termOf (jobId: string): number { return this.jobTerms.get(jobId) ?? 0 }

  /** Whether an attempt of the job is running here. */
  runsJob (jobId: string): boolean {
    for (const r of this.running.values()) if (r.task.jobId === jobId) return true
    return false
  }

  /** `accepting`: the owner policy and drain let the node take work; `hasCode`: the job's code is here. */
  assign (from: string, task: Assign, accepting: boolean, hasCode: boolean): WorkerEffect[] {
    if (this.running.has(task.attemptId)) return []
    const known = this.termOf(task.jobId)
    if (task.term < known) return [failed(from, task, STALE_TERM_KIND, `job ${task.jobId} has a coordinator with term ${known}`)]
    if (task.term > known) this.rememberTerm(task.jobId, task.term)
    if (!accepting) {
      this.tasksReturned++
      return [failed(from, task, RETURNED_KIND, 'node is not accepting tasks (yielding to its owner or draining)')]
    }
    if (hasCode) return [this.start(from, task)]
    if (this.waitingCount >= this.config.waitingForCodeMax) return [failed(from, task, 'overloaded', 'worker has too many tasks waiting for code')]
    this.waitingCount++
    const waiting = this.waitingForCode.get(task.codeHash)
    if (waiting !== undefined) {
      waiting.push({ from, task })
      return []
    }
    this.waitingForCode.set(task.codeHash, [{ from, task }])
    return [{ type: 'send', to: from, message: { t: 'code.get', hash: task.codeHash } }]
  }

  /** The code `hash` is here now, or (with `error`) what came was refused: its waiting assignments start or fail. */
  codeArrived (hash: string, error?: string): WorkerEffect[] {
    const waiting = this.waitingForCode.get(hash)
    if (waiting === undefined) return []
    this.waitingForCode.delete(hash)
    this.waitingCount -= waiting.length
    return waiting.map(w => error !== undefined ? failed(w.from, w.task, 'bad-code', error) : this.start(w.from, w.task))
  }

  /** Whether assignments wait for this code (a code.put for nothing is dropped before it is verified). */
  awaitsCode (hash: string): boolean { return this.waitingForCode.has(hash) }

  /** The coordinator that assigned the attempt asks to stop it. */
  abort (from: string, attemptId: string): WorkerEffect[] {
    if (this.running.get(attemptId)?.from === from) return [{ type: 'abort', attemptId }]
    // Not started yet (its code is on the way): it must not start later.
    for (const [hash, waiting] of this.waitingForCode) {
      const i = waiting.findIndex(w => w.task.attemptId === attemptId && w.from === from)
      if (i < 0) continue
      waiting.splice(i, 1)
      this.waitingCount--
      if (waiting.length === 0) this.waitingForCode.delete(hash)
      break
    }
    return []
  }

  /** A new coordinator took the job over: attempts for the old one are abandoned. */
  takeover (jobId: string, term: number, coordinator: string): WorkerEffect[] {
    if (term <= this.termOf(jobId)) return []
    this.rememberTerm(jobId, term)
    const out: WorkerEffect[] = []
    for (const [attemptId, r] of this.running) if (r.task.jobId === jobId && r.from !== coordinator) out.push({ type: 'abort', attemptId })
    return out
  }

  /** Hand every running and waiting attempt back to its coordinator, which places it elsewhere. */
  giveBack (): WorkerEffect[] {
    const out: WorkerEffect[] = []
    for (const waiting of this.waitingForCode.values()) {
      for (const w of waiting) out.push(failed(w.from, w.task, RETURNED_KIND, 'handed back unrun'))
    }
    this.waitingForCode.clear()
    this.waitingCount = 0
    for (const attemptId of this.running.keys()) {
      this.returning.add(attemptId)
      out.push({ type: 'abort', attemptId })
    }
    this.tasksReturned += out.length
    return out
  }

  /** An attempt ended in its executor: the answer to its coordinator, if one still waits. */
  finished (attemptId: string, outcome: ExecOutcome): WorkerEffect[] {
    const r = this.running.get(attemptId)
    if (r === undefined) return []
    this.running.delete(attemptId)
    const { from, task } = r
    const group = task.group
    this.tasksRun += 1 + (group?.length ?? 0)
    if (this.returning.delete(attemptId) && !outcome.ok) return [failed(from, task, RETURNED_KIND, 'handed back: the node yields to its owner or drains')]
    if (!outcome.ok) {
      // Stopped on request: the coordinator released the attempt when it asked, or has yielded.
      if (outcome.kind === ABORTED_KIND) return []
      return [failed(from, task, outcome.kind, outcome.error.slice(0, this.config.errorLengthMax), outcome.stack?.slice(0, this.config.errorLengthMax), outcome.logs)]
    }
    const base = { jobId: task.jobId, taskIndex: task.taskIndex, attemptId, ...(outcome.logs !== undefined ? { logs: outcome.logs } : {}) }
    const valueOf = (v: unknown): unknown => task.kind === 'action' ? null : v
    if (group === undefined) return [{ type: 'send', to: from, message: { t: 'task.ok', ...base, value: valueOf(outcome.value), ms: outcome.durationMs } }]
    if (outcome.combined === true) {
      return [{ type: 'send', to: from, message: { t: 'task.ok', ...base, value: outcome.value, ms: outcome.durationMs, group: group.map(([taskIndex]) => [taskIndex, null]), folded: true } }]
    }
    const values = outcome.value
    if (!Array.isArray(values) || values.length !== group.length + 1) {
      return [failed(from, task, 'internal', `the executor answered a group of ${group.length + 1} tasks with ${Array.isArray(values) ? `${values.length} results` : 'no list'}`)]
    }
    return [{ type: 'send', to: from, message: { t: 'task.ok', ...base, value: valueOf(values[0]), ms: outcome.durationMs, group: group.map(([taskIndex], k) => [taskIndex, valueOf(values[k + 1])]) } }]
  }

  private start (from: string, task: Assign): WorkerEffect {
    this.running.set(task.attemptId, { from, task })
    return { type: 'run', from, task }
  }

  private rememberTerm (jobId: string, term: number): void {
    if (!this.jobTerms.has(jobId) && this.jobTerms.size >= this.config.termsMax) this.jobTerms.delete(this.jobTerms.keys().next().value as string)
    this.jobTerms.set(jobId, term)
  }
}

function failed (to: string, task: Assign, kind: FailureKind, error: string, stack?: string, logs?: TaskLogs): WorkerEffect {
  return { type: 'send', to, message: { t: 'task.failed', jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId, kind, error, ...(stack !== undefined && stack !== '' ? { stack } : {}), ...(logs !== undefined ? { logs } : {}) } }
}
