import { readdir, rm, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../host/logger.js'

// Job scratch dirs (`DATA_DIR/scratch/<code sha256>/<jobId>`) hold what tasks wrote on this node,
// an action job's output among it, so they outlive their job; but a node that keeps every one
// fills its owner's disk. A job's dir is removed once nothing in it (the dir or an entry directly
// in it) changed for the retention time and no task of the job ran here meanwhile; a code's dir
// goes with its last job's.

/** Default retention: a week, time enough to collect an action job's output. */
export const DEFAULT_SCRATCH_RETENTION_MS = 7 * 24 * 3_600_000

export interface ScratchJobDir {
  codeHash: string
  jobId: string
  /** Newest modification time (wall clock, ms) of the dir and of the entries directly in it. */
  newestMs: number
}

/** Whether to remove a job's dir: untouched for `retentionMs` (> 0), and not used by a task lately. */
export function scratchDirExpired (d: ScratchJobDir, nowMs: number, retentionMs: number, lastUsedMs: (codeHash: string, jobId: string) => number | undefined): boolean {
  if (!(retentionMs > 0)) return false
  const used = Math.max(d.newestMs, lastUsedMs(d.codeHash, d.jobId) ?? -Infinity)
  return nowMs - used >= retentionMs
}

export interface ScratchSweeperOptions {
  /** DATA_DIR/scratch */
  dir: string
  /** 0: never remove anything. */
  retentionMs: number
  /** When a task of the job last used its dir in this process (wall clock, ms). */
  lastUsedMs: (codeHash: string, jobId: string) => number | undefined
  /** A job's dir was removed (the worker forgets it made it). */
  onRemoved?: (codeHash: string, jobId: string) => void
  log: Logger
  nowMs?: () => number
}

export class ScratchSweeper {
  private running = false

  constructor (private readonly opts: ScratchSweeperOptions) {}

  /** One pass; never throws (a dir that vanished or cannot be read is skipped). Returns the dirs removed. */
  async sweep (): Promise<string[]> {
    if (this.running || !(this.opts.retentionMs > 0)) return []
    this.running = true
    try {
      const dirs = await this.list()
      const now = this.opts.nowMs ?? Date.now
      const removed: string[] = []
      for (const d of dirs) {
        // Asked right before each removal: a task of the job may have come while others were removed.
        if (!scratchDirExpired(d, now(), this.opts.retentionMs, this.opts.lastUsedMs)) continue
        const path = join(this.opts.dir, d.codeHash, d.jobId)
        try {
          await rm(path, { recursive: true, force: true })
          this.opts.onRemoved?.(d.codeHash, d.jobId)
          removed.push(path)
        } catch (err) {
          this.opts.log.warn({ path, err: (err as Error).message }, 'could not remove an old scratch dir')
        }
      }
      // A code dir left empty goes too (rmdir refuses one that is not empty, or was refilled meanwhile).
      for (const codeHash of new Set(dirs.map(d => d.codeHash))) await rmdir(join(this.opts.dir, codeHash)).catch(() => {})
      if (removed.length > 0) this.opts.log.info({ removed: removed.length, retentionMs: this.opts.retentionMs }, 'removed old job scratch dirs')
      return removed
    } finally {
      this.running = false
    }
  }

  private async list (): Promise<ScratchJobDir[]> {
    const out: ScratchJobDir[] = []
    for (const codeHash of await names(this.opts.dir)) {
      for (const jobId of await names(join(this.opts.dir, codeHash))) {
        const newestMs = await newestMtime(join(this.opts.dir, codeHash, jobId))
        if (newestMs !== undefined) out.push({ codeHash, jobId, newestMs })
      }
    }
    return out
  }
}

/** The dirs directly in `dir` (none if it cannot be read). */
async function names (dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name)
  } catch {
    return []
  }
}

/** The newest mtime of `dir` and of the entries directly in it; undefined if `dir` is gone. */
async function newestMtime (dir: string): Promise<number | undefined> {
  let newest: number
  try {
    newest = (await stat(dir)).mtimeMs
  } catch {
    return undefined
  }
  let entries: string[] = []
  try { entries = await readdir(dir) } catch { return newest }
  for (const name of entries) {
    try { newest = Math.max(newest, (await stat(join(dir, name))).mtimeMs) } catch { /* removed meanwhile */ }
  }
  return newest
}
