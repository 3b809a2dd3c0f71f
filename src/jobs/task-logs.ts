import { z } from 'zod'

// A job's task output (console.* and stdout/stderr writes of its split, maps and reduce), as its
// coordinator keeps it for `meshwork logs` (GET /jobs/:id/logs). Pure: times and node ids come in
// from the caller. Bounded: each task's lines were bounded where they ran (log-capture.ts); here
// each job keeps its newest `linesMax` lines and `charsMax` characters (older ones are counted
// in `dropped`), and the newest `jobsMax` jobs. Every line has a sequence number, so a client
// following a job asks for the lines after the last one it saw.

// A task's bounds, as the executor child applies them (src/node/executor/log-capture.ts, which
// may import nothing outside its directory: the sandbox lets the child read only that; a unit
// test checks that both say the same).
/** Most lines kept per task. */
export const TASK_LOG_LINES_MAX = 500
/** Most characters kept per task (each line counts its length plus one). */
export const TASK_LOG_CHARS_MAX = 64 * 1024
/** A longer line is cut to this many characters (and an ellipsis). */
export const LOG_LINE_CHARS_MAX = 4096

export const JOB_LOG_LINES_MAX = 10_000
export const JOB_LOG_CHARS_MAX = 1024 * 1024
export const JOB_LOGS_JOBS_MAX = 64
/** Most lines in one answer (a client asks again with `after`). */
export const LOG_PAGE_LINES_MAX = 1000

const TaskIndex = z.number().int().min(0).max(10_000_000)
const Text = z.string().max(LOG_LINE_CHARS_MAX + 1)
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/**
 * A task's captured output as the executor sends it and a worker passes it on (task.ok,
 * task.failed, task.results): at most a task's worth of lines and characters.
 */
export const TaskLogsSchema = z.object({
  lines: z.array(z.tuple([TaskIndex, z.union([z.literal(1), z.literal(2)]), z.number().finite(), Text])).max(TASK_LOG_LINES_MAX),
  dropped: z.tuple([Count, Count]).optional(),
}).strict().refine(l => l.lines.reduce((n, line) => n + line[3].length + 1, 0) <= TASK_LOG_CHARS_MAX + TASK_LOG_LINES_MAX, { message: `more than a task's ${TASK_LOG_CHARS_MAX} characters of output`, path: ['lines'] })
export type TaskLogs = z.infer<typeof TaskLogsSchema>

export type LogTask = number | 'split' | 'reduce'

export const LogLineSchema = z.object({
  seq: z.number().int().min(1),
  /** The task index, or 'split' / 'reduce' (they run on the coordinator's node). */
  task: z.union([TaskIndex, z.literal('split'), z.literal('reduce')]),
  /** 1 for a task's first attempt; for split and reduce, the coordinator's term. */
  attempt: z.number().int().min(0),
  /** The peer id of the node that ran it. */
  node: z.string().min(1).max(128),
  stream: z.enum(['stdout', 'stderr']),
  /** Wall-clock ms on the node that ran it. */
  atMs: z.number().finite(),
  text: Text,
  /** Not the task's own output: meshwork saying that some of it was dropped. */
  marker: z.literal(true).optional(),
}).strict()
export type LogLine = z.infer<typeof LogLineSchema>

export const LogPageSchema = z.object({
  lines: z.array(LogLineSchema).max(LOG_PAGE_LINES_MAX),
  /** Ask with `after=next` for the lines after these. */
  next: z.number().int().min(0),
  /** Lines of the job dropped to keep its log bounded (the oldest first); tasks' own drops are marker lines. */
  dropped: Count,
}).strict()
export type LogPage = z.infer<typeof LogPageSchema>

export interface JobLogsOptions { linesMax?: number, charsMax?: number, jobsMax?: number }

interface JobLog {
  lines: LogLine[]
  /** Index in `lines` of the oldest kept line (dropped ones are cut off in bulk). */
  head: number
  chars: number
  nextSeq: number
  dropped: number
}

export class JobLogs {
  private readonly jobs = new Map<string, JobLog>()
  private readonly linesMax: number
  private readonly charsMax: number
  private readonly jobsMax: number

  constructor (opts: JobLogsOptions = {}) {
    this.linesMax = Math.max(1, opts.linesMax ?? JOB_LOG_LINES_MAX)
    this.charsMax = Math.max(1, opts.charsMax ?? JOB_LOG_CHARS_MAX)
    this.jobsMax = Math.max(1, opts.jobsMax ?? JOB_LOGS_JOBS_MAX)
  }

  has (jobId: string): boolean { return this.jobs.has(jobId) }
  get size (): number { return this.jobs.size }

  /** A job this node coordinates starts: it has a log from now on (even an empty one). */
  open (jobId: string): void {
    if (this.jobs.has(jobId)) return
    this.jobs.set(jobId, { lines: [], head: 0, chars: 0, nextSeq: 1, dropped: 0 })
    while (this.jobs.size > this.jobsMax) this.jobs.delete(this.jobs.keys().next().value as string)
  }

  /**
   * One task's output. `task`: for split and reduce their name (the lines' own task index is
   * that of a map task, each of a group's tasks its own).
   */
  add (jobId: string, from: { task: LogTask, attempt: number, node: string }, logs: TaskLogs): void {
    if (logs.lines.length === 0 && logs.dropped === undefined) return
    this.open(jobId)
    const job = this.jobs.get(jobId) as JobLog
    let lastTask: LogTask = from.task
    let lastAtMs = 0
    for (const [index, stream, atMs, text] of logs.lines) {
      lastTask = from.task === 'split' || from.task === 'reduce' ? from.task : index
      lastAtMs = atMs
      this.push(job, { seq: job.nextSeq++, task: lastTask, attempt: from.attempt, node: from.node, stream: stream === 2 ? 'stderr' : 'stdout', atMs, text })
    }
    if (logs.dropped !== undefined && (logs.dropped[0] > 0 || logs.dropped[1] > 0)) {
      const [lines, chars] = logs.dropped
      const text = `[meshwork: ${lines} more line${lines === 1 ? '' : 's'} (${chars} characters) of this task's output dropped: a task keeps at most ${TASK_LOG_LINES_MAX} lines, ${TASK_LOG_CHARS_MAX} characters]`
      this.push(job, { seq: job.nextSeq++, task: lastTask, attempt: from.attempt, node: from.node, stream: 'stderr', atMs: lastAtMs, text, marker: true })
    }
  }

  /** The lines after sequence number `after`, oldest first, at most `limit`; undefined for a job without a log here. */
  read (jobId: string, after: number, limit = LOG_PAGE_LINES_MAX): LogPage | undefined {
    const job = this.jobs.get(jobId)
    if (job === undefined) return undefined
    const n = Math.max(0, Math.min(limit, LOG_PAGE_LINES_MAX))
    // Sequence numbers are consecutive: the first line after `after` is found by arithmetic.
    const oldestSeq = job.lines.length > job.head ? (job.lines[job.head] as LogLine).seq : job.nextSeq
    const from = job.head + Math.max(0, after + 1 - oldestSeq)
    const lines = job.lines.slice(from, from + n)
    const last = lines[lines.length - 1]
    return { lines, next: last !== undefined ? last.seq : Math.max(Math.min(after, job.nextSeq - 1), 0), dropped: job.dropped }
  }

  /** Forget the jobs `keep` says no (the node no longer holds their records). */
  retain (keep: (jobId: string) => boolean): void {
    for (const jobId of [...this.jobs.keys()]) if (!keep(jobId)) this.jobs.delete(jobId)
  }

  private push (job: JobLog, line: LogLine): void {
    job.lines.push(line)
    job.chars += line.text.length + 1
    while (job.lines.length - job.head > this.linesMax || (job.chars > this.charsMax && job.lines.length - job.head > 1)) {
      const old = job.lines[job.head] as LogLine
      job.chars -= old.text.length + 1
      job.head++
      job.dropped++
    }
    // Compact once the dropped front is as long as what is kept.
    if (job.head > 1024 && job.head * 2 > job.lines.length) {
      job.lines = job.lines.slice(job.head)
      job.head = 0
    }
  }
}
