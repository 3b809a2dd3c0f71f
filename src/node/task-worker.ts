import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import type { ExecutorPool } from '../jobs/executor-pool.js'
import type { RpcMessage } from '../jobs/wire.js'
import type { GuestGrants } from '../jobs/job-spec.js'
import type { CodeCache } from './code-cache.js'
import type { Logger } from './logger.js'

// The worker side of every node: runs tasks that coordinators assign to it in the
// supervised executor pool, fetching job code by content hash from the coordinator when it
// is not cached yet, and sends each outcome back. A group attempt (several of a job's tasks in
// one assign) runs in one executor call and is answered once, with every task's result.

type Assign = Extract<RpcMessage, { t: 'task.assign' }>

export interface TaskWorkerOptions {
  selfId: string
  pool: ExecutorPool
  code: CodeCache
  scratchDir: string
  log: Logger
  send: (peerId: string, message: RpcMessage) => void
  /** Called whenever the number of running tasks changes. */
  onLoadChange: () => void
  /** Most tasks waiting for their code at once. */
  waitingForCodeMax?: number
  /** False while the owner policy yields or the node drains: new assignments are handed back. */
  accepting?: () => boolean
}

/** task.failed kind for a task handed back unrun (owner busy, draining): not a failure, re-place it. */
export const RETURNED_KIND = 'returned'

export class TaskWorker {
  /** attemptId → the coordinator that assigned it, and its job */
  private readonly running = new Map<string, { from: string, jobId: string }>()
  /** jobId → the highest coordinator term seen: assignments from older terms are refused. */
  private readonly jobTerms = new Map<string, number>()
  /** code hash → tasks waiting for that code */
  private readonly waitingForCode = new Map<string, Array<{ from: string, task: Assign }>>()
  private waitingCount = 0
  /** `codeHash/jobId` → the job's dirs, created already (path.join per task shows in profiles), and when a task last used them (wall clock). */
  private readonly scratchDirs = new Map<string, { scratchDir: string, workspaceDir: string, usedMs: number }>()
  /** Attempts being handed back: their abort outcome is reported as 'returned'. */
  private readonly returning = new Set<string>()
  tasksRun = 0
  tasksReturned = 0

  constructor (private readonly opts: TaskWorkerOptions) {}

  get runningTasks (): number { return this.running.size }

  /** A job is about to send tasks here: have its executors started (see ExecutorPool.prepare). */
  onPrepare (m: { jobId: string, codeHash: string, tools?: string[], guest?: GuestGrants }): void {
    if (this.opts.accepting?.() === false || !this.opts.code.has(m.codeHash)) return
    if ((this.jobTerms.get(m.jobId) ?? 0) > 0) return // its tasks already came
    const { scratchDir, workspaceDir } = this.scratchDirFor(m.jobId, m.codeHash)
    this.opts.pool.prepare({
      modulePath: this.opts.code.pathFor(m.codeHash),
      ctx: { scratchDir },
      workspaceDir,
      ...(m.tools !== undefined ? { tools: m.tools } : {}),
      ...guestRequest(m.guest),
    })
  }

  onAssign (from: string, task: Assign): void {
    if (this.running.has(task.attemptId)) return
    const known = this.jobTerms.get(task.jobId) ?? 0
    if (task.term < known) {
      this.opts.send(from, { t: 'task.failed', jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId, kind: 'stale-term', error: `job ${task.jobId} has a coordinator with term ${known}` })
      return
    }
    if (task.term > known) this.rememberTerm(task.jobId, task.term)
    if (this.opts.accepting?.() === false) {
      this.tasksReturned++
      this.opts.send(from, { t: 'task.failed', jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId, kind: RETURNED_KIND, error: 'node is not accepting tasks (yielding to its owner or draining)' })
      return
    }
    if (this.opts.code.has(task.codeHash)) {
      this.run(from, task)
      return
    }
    if (this.waitingCount >= (this.opts.waitingForCodeMax ?? 10_000)) {
      this.opts.send(from, { t: 'task.failed', jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId, kind: 'overloaded', error: 'worker has too many tasks waiting for code' })
      return
    }
    const waiting = this.waitingForCode.get(task.codeHash)
    if (waiting !== undefined) {
      waiting.push({ from, task })
    } else {
      this.waitingForCode.set(task.codeHash, [{ from, task }])
      this.opts.send(from, { t: 'code.get', hash: task.codeHash })
    }
    this.waitingCount++
  }

  /** Code arrived from a coordinator: verify, cache, and start the tasks that waited for it. */
  async onCode (from: string, hash: string, code: string): Promise<void> {
    const waiting = this.waitingForCode.get(hash)
    if (waiting === undefined) return
    try {
      await this.opts.code.put(hash, code)
    } catch (err) {
      this.opts.log.warn({ from, hash, err: (err as Error).message }, 'rejected job code')
      this.waitingForCode.delete(hash)
      this.waitingCount -= waiting.length
      for (const w of waiting) this.opts.send(w.from, { t: 'task.failed', jobId: w.task.jobId, taskIndex: w.task.taskIndex, attemptId: w.task.attemptId, kind: 'bad-code', error: (err as Error).message })
      return
    }
    this.waitingForCode.delete(hash)
    this.waitingCount -= waiting.length
    for (const w of waiting) this.run(w.from, w.task)
  }

  onAbort (from: string, attemptId: string): void {
    if (this.running.get(attemptId)?.from === from) {
      this.opts.pool.abort(attemptId)
      return
    }
    // Not started yet (its code is on the way): it must not start later.
    for (const [hash, waiting] of this.waitingForCode) {
      const i = waiting.findIndex(w => w.task.attemptId === attemptId && w.from === from)
      if (i < 0) continue
      waiting.splice(i, 1)
      this.waitingCount--
      if (waiting.length === 0) this.waitingForCode.delete(hash)
      return
    }
  }

  /** Hand every running and waiting task back to its coordinator, which places it elsewhere. */
  giveBack (): number {
    let n = 0
    for (const [hash, waiting] of this.waitingForCode) {
      for (const w of waiting) {
        this.opts.send(w.from, { t: 'task.failed', jobId: w.task.jobId, taskIndex: w.task.taskIndex, attemptId: w.task.attemptId, kind: RETURNED_KIND, error: 'handed back unrun' })
        n++
      }
      this.waitingCount -= waiting.length
      this.waitingForCode.delete(hash)
    }
    for (const attemptId of [...this.running.keys()]) {
      this.returning.add(attemptId)
      if (this.opts.pool.abort(attemptId)) n++
      else this.returning.delete(attemptId)
    }
    this.tasksReturned += n
    return n
  }

  /** A new coordinator took the job over: attempts for the old one are abandoned. */
  onTakeover (jobId: string, term: number, coordinator: string): void {
    if (term <= (this.jobTerms.get(jobId) ?? 0)) return
    this.rememberTerm(jobId, term)
    for (const [attemptId, r] of this.running) if (r.jobId === jobId && r.from !== coordinator) this.opts.pool.abort(attemptId)
  }

  /**
   * The job's scratch dir on this node (`scratch/<codeHash>/<jobId>`), created on first use, and
   * its workspace: the dir of every job running the same code, which the executor's sandbox
   * grants. Split and reduce get them too. One grant per code lets a child serve every job of that
   * code — the same job resubmitted does not wait for new executors — at the price that jobs of
   * the same code can see each other's scratch dirs (SECURITY.md).
   */
  scratchDirFor (jobId: string, codeHash: string): { scratchDir: string, workspaceDir: string } {
    const key = scratchKey(codeHash, jobId)
    const known = this.scratchDirs.get(key)
    if (known !== undefined) {
      known.usedMs = Date.now()
      return known
    }
    const workspaceDir = join(this.opts.scratchDir, codeHash)
    const dirs = { scratchDir: join(workspaceDir, jobId), workspaceDir, usedMs: Date.now() }
    mkdirSync(dirs.scratchDir, { recursive: true })
    // Only remembers which dirs exist (mkdir again is harmless): bounded like jobTerms.
    if (this.scratchDirs.size >= 10_000) this.scratchDirs.clear()
    this.scratchDirs.set(key, dirs)
    return dirs
  }

  /** When a task of the job last used its scratch dir here: now while one runs (undefined: not lately, as far as this process knows). */
  scratchLastUsedMs (codeHash: string, jobId: string): number | undefined {
    for (const r of this.running.values()) if (r.jobId === jobId) return Date.now()
    return this.scratchDirs.get(scratchKey(codeHash, jobId))?.usedMs
  }

  /** The job's scratch dir was removed: the next task creates it again. */
  forgetScratchDir (codeHash: string, jobId: string): void {
    this.scratchDirs.delete(scratchKey(codeHash, jobId))
  }

  private rememberTerm (jobId: string, term: number): void {
    if (this.jobTerms.size >= 10_000) this.jobTerms.delete(this.jobTerms.keys().next().value as string)
    this.jobTerms.set(jobId, term)
  }

  private run (from: string, task: Assign): void {
    this.running.set(task.attemptId, { from, jobId: task.jobId })
    this.opts.onLoadChange()
    const { scratchDir, workspaceDir } = this.scratchDirFor(task.jobId, task.codeHash)
    const group = task.group
    this.opts.pool.run({
      id: task.attemptId,
      op: 'map',
      modulePath: this.opts.code.pathFor(task.codeHash),
      codeHash: task.codeHash,
      arg: task.chunk,
      ctx: { jobId: task.jobId, taskIndex: task.taskIndex, parts: task.parts, peerId: this.opts.selfId, scratchDir, kind: task.kind },
      workspaceDir,
      ...(task.tools !== undefined ? { tools: task.tools } : {}),
      ...guestRequest(task.guest),
      ...(group !== undefined ? { group } : {}),
    }).then(outcome => {
      this.running.delete(task.attemptId)
      this.tasksRun += 1 + (group?.length ?? 0)
      this.opts.onLoadChange()
      const base = { jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId }
      if (this.returning.delete(task.attemptId) && !outcome.ok) this.opts.send(from, { t: 'task.failed', ...base, kind: RETURNED_KIND, error: 'handed back: the node yields to its owner or drains' })
      else if (!outcome.ok) this.opts.send(from, { t: 'task.failed', ...base, kind: outcome.kind, error: outcome.error.slice(0, 16_000) })
      else if (group === undefined) this.opts.send(from, { t: 'task.ok', ...base, value: task.kind === 'action' ? null : outcome.value, ms: outcome.durationMs })
      else {
        // The executor answers a group with every task's result, this one's first.
        const values = outcome.value
        if (!Array.isArray(values) || values.length !== group.length + 1) {
          this.opts.send(from, { t: 'task.failed', ...base, kind: 'internal', error: `the executor answered a group of ${group.length + 1} tasks with ${Array.isArray(values) ? `${values.length} results` : 'no list'}` })
          return
        }
        const value = (k: number): unknown => task.kind === 'action' ? null : values[k]
        this.opts.send(from, { t: 'task.ok', ...base, value: value(0), ms: outcome.durationMs, group: group.map(([taskIndex], k) => [taskIndex, value(k + 1)]) })
      }
    }, (err: Error) => {
      // The pool never rejects; if it ever does, the coordinator must still hear of it.
      this.running.delete(task.attemptId)
      this.opts.onLoadChange()
      this.opts.log.error({ err }, 'executor pool rejected a task')
      this.opts.send(from, { t: 'task.failed', jobId: task.jobId, taskIndex: task.taskIndex, attemptId: task.attemptId, kind: 'internal', error: err.message })
    })
  }
}

/** The key of a job's dirs in TaskWorker.scratchDirs. */
function scratchKey (codeHash: string, jobId: string): string {
  return `${codeHash}/${jobId}`
}

/** A job's grants as the pool's request fields (one object per job: the pool answers a run of them from its last profile). */
function guestRequest (guest: GuestGrants | undefined): { network?: boolean, env?: Readonly<Record<string, string>> } {
  if (guest === undefined) return {}
  return { ...(guest.network === true ? { network: true } : {}), ...(guest.env !== undefined ? { env: guest.env } : {}) }
}
