import { join } from 'node:path'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { InputSplitSchema, type InputSplit, type SourceRef } from '../../jobs/input-source.js'
import type { ArgFile, GroupEntry } from '../executor/executor-protocol.js'
import { SplitReadError } from '../data/split-reader.js'
import type { ExecutorPool } from '../executor/executor-pool.js'
import type { RpcMessage } from '../../jobs/wire.js'
import { RETURNED_KIND, WorkerCore, type Assign, type ExecOutcome, type WorkerEffect } from '../../jobs/worker-core.js'
import type { GuestGrants } from '../../jobs/job-spec.js'
import type { CodeCache } from './code-cache.js'
import type { Logger } from '../host/logger.js'

// The worker role's binding (its decisions are WorkerCore's): runs the attempts the core starts
// in the supervised executor pool, fetches and verifies job code by content hash from the
// coordinator when it is not cached yet, and keeps each job's scratch dirs. A group attempt
// (several of a job's tasks in one assign) runs in one executor call and is answered once.

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
  /** Reads a split of a job's stored input (tasks of jobs with a source). */
  inputs?: { read: (split: InputSplit, ref: SourceRef) => Promise<Buffer> }
  /** Each executor call for an attempt of `tasks` tasks ended: `ok` or the failure kind, and how long it took (metrics). */
  onOutcome?: (outcome: string, durationMs: number, tasks: number) => void
}

export { RETURNED_KIND }

export class TaskWorker {
  private readonly core: WorkerCore
  /** `codeHash/jobId` → the job's dirs, created already (path.join per task shows in profiles), and when a task last used them (wall clock). */
  private readonly scratchDirs = new Map<string, { scratchDir: string, workspaceDir: string, usedMs: number }>()

  /** Attempts fetching their input split, and those of them aborted meanwhile. */
  private readonly fetching = new Set<string>()
  private readonly abortedWhileFetching = new Set<string>()

  constructor (private readonly opts: TaskWorkerOptions) {
    this.core = new WorkerCore(opts.waitingForCodeMax !== undefined ? { waitingForCodeMax: opts.waitingForCodeMax } : {})
  }

  get runningTasks (): number { return this.core.runningCount }
  get tasksRun (): number { return this.core.tasksRun }
  get tasksReturned (): number { return this.core.tasksReturned }

  /** A job is about to send tasks here: have its executors started (see ExecutorPool.prepare). */
  onPrepare (m: { jobId: string, codeHash: string, tools?: string[], guest?: GuestGrants }): void {
    if (this.opts.accepting?.() === false || !this.opts.code.has(m.codeHash)) return
    if (this.core.termOf(m.jobId) > 0) return // its tasks already came
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
    this.apply(this.core.assign(from, task, this.opts.accepting?.() !== false, this.opts.code.has(task.codeHash)))
  }

  /** Code arrived from a coordinator: verify, cache, and start the tasks that waited for it. */
  async onCode (from: string, hash: string, code: string): Promise<void> {
    if (!this.core.awaitsCode(hash)) return
    try {
      await this.opts.code.put(hash, code)
    } catch (err) {
      this.opts.log.warn({ from, hash, err: (err as Error).message }, 'rejected job code')
      this.apply(this.core.codeArrived(hash, (err as Error).message))
      return
    }
    this.apply(this.core.codeArrived(hash))
  }

  onAbort (from: string, attemptId: string): void { this.apply(this.core.abort(from, attemptId)) }

  /** Hand every running and waiting task back to its coordinator, which places it elsewhere. */
  giveBack (): number {
    const effects = this.core.giveBack()
    this.apply(effects)
    return effects.length
  }

  /** A new coordinator took the job over: attempts for the old one are abandoned. */
  onTakeover (jobId: string, term: number, coordinator: string): void { this.apply(this.core.takeover(jobId, term, coordinator)) }

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
    if (this.core.runsJob(jobId)) return Date.now()
    return this.scratchDirs.get(scratchKey(codeHash, jobId))?.usedMs
  }

  /** The job's scratch dir was removed: the next task creates it again. */
  forgetScratchDir (codeHash: string, jobId: string): void {
    this.scratchDirs.delete(scratchKey(codeHash, jobId))
  }

  private apply (effects: WorkerEffect[]): void {
    for (const e of effects) {
      if (e.type === 'send') this.opts.send(e.to, e.message)
      else if (e.type === 'run') this.run(e.task)
      else {
        // An attempt still fetching its input is not in the pool yet: it stops once fetched.
        if (this.fetching.has(e.attemptId)) this.abortedWhileFetching.add(e.attemptId)
        this.opts.pool.abort(e.attemptId)
      }
    }
  }

  private run (task: Assign): void {
    this.opts.onLoadChange()
    if (task.source !== undefined) {
      void this.runFromSource(task, task.source)
      return
    }
    this.execute(task)
  }

  /**
   * A task of stored input: its split's records are fetched (from this node's store or a holder)
   * into a file in the job's workspace, which the executor reads; the file goes with the outcome.
   */
  private async runFromSource (task: Assign, ref: SourceRef): Promise<void> {
    const { workspaceDir } = this.scratchDirFor(task.jobId, task.codeHash)
    const entries: Array<[number, unknown]> = [[task.taskIndex, task.chunk], ...(task.group ?? [])]
    const files: string[] = []
    const encoding = ref.records?.encoding ?? 'utf8'
    const cleanup = (): void => { for (const f of files) rmSync(f, { force: true }) }
    this.fetching.add(task.attemptId)
    try {
      const inputs = this.opts.inputs
      if (inputs === undefined) throw new SplitReadError('input-gone', 'this node cannot read stored input')
      const dir = join(workspaceDir, '.inputs')
      mkdirSync(dir, { recursive: true })
      for (const [taskIndex, chunk] of entries) {
        const split = InputSplitSchema.safeParse(chunk)
        if (!split.success) throw new SplitReadError('input-gone', `task ${taskIndex}'s chunk is not an input split: ${split.error.issues[0]?.message ?? 'invalid'}`)
        const bytes = await inputs.read(split.data, ref)
        const file = join(dir, `${task.attemptId.replace(/[^A-Za-z0-9_-]/g, '_')}-${taskIndex}`)
        writeFileSync(file, bytes)
        files.push(file)
      }
    } catch (err) {
      cleanup()
      const kind = err instanceof SplitReadError ? err.kind : 'input-gone'
      this.finished(task.attemptId, this.abortedWhileFetching.delete(task.attemptId) ? { ok: false, kind: 'aborted', error: 'aborted' } : { ok: false, kind, error: (err as Error).message })
      return
    } finally {
      this.fetching.delete(task.attemptId)
    }
    if (this.abortedWhileFetching.delete(task.attemptId)) {
      cleanup()
      this.finished(task.attemptId, { ok: false, kind: 'aborted', error: 'aborted' })
      return
    }
    const [first, ...rest] = files
    this.execute(task, { path: first as string, encoding }, rest.map((path, i) => [entries[i + 1]?.[0] as number, null, { path, encoding }]), cleanup)
  }

  private execute (task: Assign, argFile?: ArgFile, groupFiles?: GroupEntry[], done?: () => void): void {
    const { scratchDir, workspaceDir } = this.scratchDirFor(task.jobId, task.codeHash)
    const group = groupFiles !== undefined && groupFiles.length > 0 ? groupFiles : argFile !== undefined ? undefined : task.group
    this.opts.pool.run({
      id: task.attemptId,
      op: 'map',
      modulePath: this.opts.code.pathFor(task.codeHash),
      codeHash: task.codeHash,
      arg: task.chunk,
      ctx: { jobId: task.jobId, taskIndex: task.taskIndex, parts: task.parts, peerId: this.opts.selfId, scratchDir, kind: task.kind },
      workspaceDir,
      // Passed on as the executor wrote it: only the reduce's executor parses it (src/jobs/raw-json.ts).
      rawResult: true,
      ...(task.tools !== undefined ? { tools: task.tools } : {}),
      ...guestRequest(task.guest),
      ...(group !== undefined ? { group, ...(task.combine === true ? { combine: true as const } : {}) } : {}),
      ...(argFile !== undefined ? { argFile } : {}),
    }).then(outcome => {
      done?.()
      this.opts.onOutcome?.(outcome.ok ? 'ok' : outcome.kind, outcome.durationMs, 1 + (group?.length ?? 0))
      const logs = outcome.logs !== undefined ? { logs: outcome.logs } : {}
      this.finished(task.attemptId, outcome.ok ? { ok: true, value: outcome.value, durationMs: outcome.durationMs, ...(outcome.combined === true ? { combined: true } : {}), ...logs } : { ok: false, kind: outcome.kind, error: outcome.error, ...(outcome.stack !== undefined ? { stack: outcome.stack } : {}), ...logs })
    }, (err: Error) => {
      done?.()
      // The pool never rejects; if it ever does, the coordinator must still hear of it.
      this.opts.log.error({ err }, 'executor pool rejected a task')
      this.finished(task.attemptId, { ok: false, kind: 'internal', error: err.message })
    })
  }

  private finished (attemptId: string, outcome: ExecOutcome): void {
    const effects = this.core.finished(attemptId, outcome)
    this.opts.onLoadChange()
    this.apply(effects)
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
