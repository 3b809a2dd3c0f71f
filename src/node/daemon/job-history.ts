import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { z } from 'zod'
import { FINAL_STATES, JobRecordSchema, type JobRecord } from '../../jobs/job-spec.js'
import type { Logger } from '../host/logger.js'

// The finished jobs this node has known, kept on disk so `meshwork jobs --all` lists them and
// `meshwork result` answers after a restart, and after the registry forgot them
// (--result-retention-ms). A header line, then one JSON line per finished job (its record,
// the result included when it is small), appended as the job finishes; the last line of a
// job wins. Each line goes in one write; the file is only ever replaced whole (written aside,
// then renamed), when it is compacted. Read back through zod schemas: a torn last line (a
// crash mid-write) or an edited one is skipped and counted; a file that is not a history at
// all is moved aside and named in a warning. Never fatal.

/** Finished jobs kept by default (--history-max). */
export const DEFAULT_HISTORY_MAX = 1000
/** Bytes of history kept by default (--history-max-bytes), all lines together. */
export const DEFAULT_HISTORY_BYTES_MAX = 32 * 1024 * 1024
/** A result larger than this (JSON) is not kept: the record says how large it was. */
export const HISTORY_RESULT_BYTES_MAX = 1024 * 1024
export const HISTORY_FILE = 'jobs-history.jsonl'

const HEADER = { meshwork: 'job-history', v: 1 } as const
const HeaderSchema = z.object({ meshwork: z.literal('job-history'), v: z.literal(1) }).strict()
const EntrySchema = z.object({
  record: JobRecordSchema,
  /** The result was left out for its size (JSON bytes). */
  resultOmittedBytes: z.number().int().min(0).optional(),
}).strict()
export type HistoryEntry = z.infer<typeof EntrySchema>
export type HistoryRecord = Omit<JobRecord, 'result'>

/** Which final state stands over another of the same job, as in JobRegistry.upsert. */
const FINAL_RANK: Record<string, number> = { cancelled: 1, failed: 2, done: 3 }

export interface JobHistoryOptions {
  file: string
  /** Most jobs kept (the oldest finished go first); 0 keeps none and writes nothing. */
  jobsMax: number
  /** Most bytes of lines kept (default DEFAULT_HISTORY_BYTES_MAX). */
  bytesMax?: number
  /** Largest result kept (default HISTORY_RESULT_BYTES_MAX). */
  resultBytesMax?: number
  log: Logger
  /** For the name of a file moved aside. */
  wallMs?: () => number
}

export class JobHistory {
  /** In the order the jobs finished (a re-finished job moves to the end), with each one's line. */
  private readonly jobs = new Map<string, { entry: HistoryEntry, line: string, bytes: number }>()
  private bytes = 0
  /** Lines in the file: rewritten once they are twice the jobs kept. */
  private lines = 0
  /** Bytes in the file: rewritten once they are twice the budget. */
  private fileBytes = 0
  private writeFailed = false
  /** The file is not ours and could not be moved aside: nothing is written over it. */
  private disabled = false
  private readonly bytesMax: number
  /** Lines of the file that did not parse when it was read. */
  readonly skipped: number

  constructor (private readonly opts: JobHistoryOptions) {
    this.bytesMax = opts.bytesMax ?? DEFAULT_HISTORY_BYTES_MAX
    this.skipped = opts.jobsMax === 0 ? 0 : this.load()
    if (this.skipped > 0) opts.log.warn({ file: opts.file, skipped: this.skipped }, 'skipped lines of the job history that are not job records')
    // Rewritten without skipped lines too: a torn last line would swallow the next one appended.
    if (!this.disabled && this.lines > 0 && (this.skipped > 0 || this.fileBytes > 2 * this.bytesMax || this.lines > 2 * Math.max(1, this.jobs.size))) {
      try { this.rewrite() } catch (err) { opts.log.warn({ file: opts.file, err: (err as Error).message }, 'could not compact the job history') }
    }
  }

  get size (): number { return this.jobs.size }

  get (jobId: string): HistoryEntry | undefined { return this.jobs.get(jobId)?.entry }

  /** Oldest finished first, without results. */
  list (): HistoryRecord[] {
    return [...this.jobs.values()].map(({ entry: { record } }) => {
      const { result: _result, ...rest } = record
      return rest
    })
  }

  /** Keep a final record; false when it is not final or adds nothing to what is kept. */
  record (record: JobRecord): boolean {
    if (this.opts.jobsMax === 0 || !FINAL_STATES.has(record.state)) return false
    const old = this.jobs.get(record.jobId)
    if (old !== undefined && (FINAL_RANK[record.state] ?? 0) < (FINAL_RANK[old.entry.record.state] ?? 0)) return false
    const entry = this.entryOf(record)
    const line = JSON.stringify(entry)
    if (old?.line === line) return false
    if (byteLength(line) > this.bytesMax) return false // a record alone over the whole budget (a huge error text): not kept
    this.remember(entry, line)
    this.append(line)
    return true
  }

  private entryOf (record: JobRecord): HistoryEntry {
    if (record.result === undefined) return { record }
    const bytes = Buffer.byteLength(JSON.stringify(record.result) ?? '')
    if (bytes <= (this.opts.resultBytesMax ?? HISTORY_RESULT_BYTES_MAX)) return { record }
    const { result: _result, ...rest } = record
    return { record: rest, resultOmittedBytes: bytes }
  }

  private remember (entry: HistoryEntry, line: string): void {
    const id = entry.record.jobId
    const old = this.jobs.get(id)
    if (old !== undefined) this.bytes -= old.bytes
    this.jobs.delete(id)
    const bytes = byteLength(line) + 1
    this.jobs.set(id, { entry, line, bytes })
    this.bytes += bytes
    for (const [jobId, kept] of this.jobs) {
      if (this.jobs.size <= this.opts.jobsMax && this.bytes <= this.bytesMax) break
      this.jobs.delete(jobId)
      this.bytes -= kept.bytes
    }
  }

  private append (line: string): void {
    if (this.disabled) return
    try {
      const bytes = byteLength(line) + 1
      if (this.lines === 0 || this.lines + 1 > 2 * this.opts.jobsMax + 1 || this.fileBytes + bytes > 2 * this.bytesMax) {
        this.rewrite()
      } else {
        appendFileSync(this.opts.file, line + '\n', { mode: 0o600 })
        this.lines++
        this.fileBytes += bytes
      }
      this.writeFailed = false
    } catch (err) {
      // A full disk costs the history, not the node; said once until a write works again.
      if (!this.writeFailed) this.opts.log.warn({ file: this.opts.file, err: (err as Error).message }, 'could not write the job history')
      this.writeFailed = true
    }
  }

  /** The file anew: the header and one line per kept job (written aside, then renamed: never half a history). */
  private rewrite (): void {
    const tmp = `${this.opts.file}.${process.pid}.tmp`
    const text = JSON.stringify(HEADER) + '\n' + [...this.jobs.values()].map(j => j.line + '\n').join('')
    writeFileSync(tmp, text, { mode: 0o600 })
    renameSync(tmp, this.opts.file)
    this.lines = 1 + this.jobs.size
    this.fileBytes = byteLength(text)
  }

  /** Reads the file; answers how many of its lines were skipped. */
  private load (): number {
    let text: string
    try {
      text = readFileSync(this.opts.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ file: this.opts.file, err: (err as Error).message }, 'could not read the job history')
      return 0
    }
    const lines = text.split('\n')
    if (text !== '' && !HeaderSchema.safeParse(parseJson(lines[0] ?? '')).success) {
      this.moveAside()
      return 0
    }
    let skipped = 0
    for (const line of lines.slice(1)) {
      if (line === '') continue
      this.lines++
      const parsed = EntrySchema.safeParse(parseJson(line))
      if (!parsed.success || !FINAL_STATES.has(parsed.data.record.state)) {
        skipped++
        continue
      }
      const old = this.jobs.get(parsed.data.record.jobId)
      if (old !== undefined && (FINAL_RANK[parsed.data.record.state] ?? 0) < (FINAL_RANK[old.entry.record.state] ?? 0)) continue
      this.remember(parsed.data, line)
    }
    if (text !== '') this.lines++ // the header
    this.fileBytes = byteLength(text)
    return skipped
  }

  /** Not a job history (another program's file, another version's): kept for a look, never overwritten. */
  private moveAside (): void {
    const aside = `${this.opts.file}.unreadable-${this.opts.wallMs?.() ?? Date.now()}`
    try {
      renameSync(this.opts.file, aside)
      this.opts.log.warn({ file: this.opts.file, movedTo: aside }, 'the job history file is not a Meshwork job history: moved aside, starting a new one')
    } catch (err) {
      this.opts.log.warn({ file: this.opts.file, err: (err as Error).message }, 'the job history file is not a Meshwork job history and could not be moved aside: history off until it is removed')
      this.disabled = true
    }
  }
}

function byteLength (text: string): number { return Buffer.byteLength(text) }

function parseJson (line: string): unknown {
  try { return JSON.parse(line) } catch { return undefined }
}
