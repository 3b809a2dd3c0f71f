import { z } from 'zod'
import { JobIdSchema, PeerIdSchema } from './job-spec.js'
import { GROUP_TASKS_MAX } from './scheduler-config.js'

// Task-level timing that a coordinator keeps for the dashboard's Gantt view: one entry per
// attempt (task, peer, start, end, outcome, backup or not). Pure: times come in from the
// caller (wall-clock ms, so a browser can place them next to the job's submission time).
//
// Bounded everywhere: the most recent `attemptsMax` attempts per job (older ones are
// counted in `omitted`), the most recent `jobsMax` jobs, and error texts cut short.
// Times are the coordinator's: assign sent → result (or failure, abort, loss) seen.

export const ATTEMPT_OUTCOMES = ['running', 'ok', 'failed', 'aborted', 'superseded', 'lost'] as const
export type AttemptOutcome = typeof ATTEMPT_OUTCOMES[number]

export const TIMELINE_ATTEMPTS_MAX = 2000
export const TIMELINE_JOBS_MAX = 24
const ERROR_CHARS_MAX = 200

export const TimelineAttemptSchema = z.object({
  task: z.number().int().min(0).max(10_000_000),
  /** 1 for the first attempt of a task; higher for retries, re-runs after a lost worker, and backups. */
  attempt: z.number().int().min(1).max(100_000),
  peer: PeerIdSchema,
  startMs: z.number(),
  /** Absent while the attempt runs. */
  endMs: z.number().optional(),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  /** A speculative copy of a straggler (first result wins). */
  backup: z.boolean(),
  error: z.string().max(ERROR_CHARS_MAX + 1).optional(),
  /** Tasks the attempt ran together, `task` first (a group on the coordinator's node); absent for one. */
  group: z.number().int().min(2).max(GROUP_TASKS_MAX).optional(),
}).strict()
export type TimelineAttempt = z.infer<typeof TimelineAttemptSchema>

export const JobTimelineSchema = z.object({
  jobId: JobIdSchema,
  term: z.number().int().min(0),
  coordinator: PeerIdSchema,
  tasks: z.number().int().min(0),
  /** Tasks completed under earlier terms (before a failover): no attempts here for them. */
  restored: z.number().int().min(0),
  startedAtMs: z.number(),
  endedAtMs: z.number().optional(),
  /** The coordinator's wall clock when this copy was taken (open attempts run up to it). */
  nowMs: z.number(),
  /** Attempts dropped from the front to keep the timeline bounded. */
  omitted: z.number().int().min(0),
  attempts: z.array(TimelineAttemptSchema).max(TIMELINE_ATTEMPTS_MAX),
}).strict()
export type JobTimeline = z.infer<typeof JobTimelineSchema>

interface Entry {
  task: number
  attempt: number
  peer: string
  startMs: number
  endMs: number | undefined
  outcome: AttemptOutcome
  backup: boolean
  error: string | undefined
  group: number | undefined
}

interface JobEntry {
  jobId: string
  term: number
  coordinator: string
  tasks: number
  restored: number
  startedAtMs: number
  endedAtMs: number | undefined
  omitted: number
  /** Ring of the most recent attempts: `head` is the oldest once full. */
  ring: Entry[]
  head: number
  /** attemptId → entry, for attempts still running (bounded by the job's in-flight count). */
  open: Map<string, Entry>
  /** Tasks that have an accepted result: a later abort of a sibling copy is 'superseded'. */
  won: Set<number>
}

export interface TaskTimelinesOptions { attemptsMax?: number, jobsMax?: number }

export class TaskTimelines {
  private readonly jobs = new Map<string, JobEntry>()
  private readonly attemptsMax: number
  private readonly jobsMax: number

  constructor (opts: TaskTimelinesOptions = {}) {
    this.attemptsMax = Math.max(1, Math.min(TIMELINE_ATTEMPTS_MAX, opts.attemptsMax ?? TIMELINE_ATTEMPTS_MAX))
    this.jobsMax = Math.max(1, opts.jobsMax ?? TIMELINE_JOBS_MAX)
  }

  /** A job starts (or starts again under a new term, e.g. after a takeover): a fresh timeline. */
  begin (jobId: string, term: number, coordinator: string, tasks: number, restored: number, nowMs: number): void {
    this.jobs.delete(jobId)
    this.jobs.set(jobId, { jobId, term, coordinator, tasks, restored, startedAtMs: nowMs, endedAtMs: undefined, omitted: 0, ring: [], head: 0, open: new Map(), won: new Set() })
    while (this.jobs.size > this.jobsMax) this.jobs.delete(this.jobs.keys().next().value as string)
  }

  /** `group`: how many tasks the attempt runs, when more than one. */
  assign (jobId: string, attemptId: string, task: number, peer: string, backup: boolean, nowMs: number, group?: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.endedAtMs !== undefined) return
    const entry: Entry = { task, attempt: attemptNumber(attemptId), peer, startMs: nowMs, endMs: undefined, outcome: 'running', backup, error: undefined, group: group !== undefined && group > 1 ? group : undefined }
    if (job.ring.length < this.attemptsMax) {
      job.ring.push(entry)
    } else {
      const dropped = job.ring[job.head] as Entry
      if (dropped.outcome === 'running') {
        for (const [id, e] of job.open) if (e === dropped) job.open.delete(id)
      }
      job.ring[job.head] = entry
      job.head = (job.head + 1) % this.attemptsMax
      job.omitted++
    }
    job.open.set(attemptId, entry)
  }

  /** An attempt ended: a result, a failure, or an abort (a lost race, a timeout, a cancel). */
  end (jobId: string, attemptId: string, outcome: 'ok' | 'failed' | 'aborted', nowMs: number, error?: string): void {
    const job = this.jobs.get(jobId)
    const entry = job?.open.get(attemptId)
    if (job === undefined || entry === undefined) return
    job.open.delete(attemptId)
    entry.endMs = nowMs
    if (outcome === 'ok') job.won.add(entry.task)
    entry.outcome = outcome === 'aborted' && job.won.has(entry.task) ? 'superseded' : outcome
    if (error !== undefined) entry.error = error.length > ERROR_CHARS_MAX ? `${error.slice(0, ERROR_CHARS_MAX)}…` : error
  }

  /** A worker died, left or became unreachable: its running attempts are lost (and re-queued by the scheduler). */
  lostPeer (peer: string, nowMs: number): void {
    for (const job of this.jobs.values()) {
      for (const [id, e] of job.open) {
        if (e.peer !== peer) continue
        job.open.delete(id)
        e.endMs = nowMs
        e.outcome = 'lost'
      }
    }
  }

  /** Mirror of the scheduler losing workers: attempts on peers not alive or suspect in `live` are lost. */
  loseAllBut (live: ReadonlySet<string>, nowMs: number): void {
    for (const job of this.jobs.values()) {
      for (const [id, e] of job.open) {
        if (live.has(e.peer)) continue
        job.open.delete(id)
        e.endMs = nowMs
        e.outcome = 'lost'
      }
    }
  }

  /** The job ended (finished, cancelled or yielded): anything still open is closed as aborted. */
  close (jobId: string, nowMs: number): void {
    const job = this.jobs.get(jobId)
    if (job === undefined || job.endedAtMs !== undefined) return
    for (const e of job.open.values()) {
      e.endMs = nowMs
      e.outcome = job.won.has(e.task) ? 'superseded' : 'aborted'
    }
    job.open.clear()
    job.won.clear()
    job.endedAtMs = nowMs
  }

  has (jobId: string): boolean { return this.jobs.has(jobId) }

  /** A copy, oldest attempt first. */
  get (jobId: string, nowMs: number): JobTimeline | undefined {
    const job = this.jobs.get(jobId)
    if (job === undefined) return undefined
    const ordered = [...job.ring.slice(job.head), ...job.ring.slice(0, job.head)]
    return {
      jobId: job.jobId,
      term: job.term,
      coordinator: job.coordinator,
      tasks: job.tasks,
      restored: job.restored,
      startedAtMs: job.startedAtMs,
      ...(job.endedAtMs !== undefined ? { endedAtMs: job.endedAtMs } : {}),
      nowMs,
      omitted: job.omitted,
      attempts: ordered.map(e => ({
        task: e.task,
        attempt: e.attempt,
        peer: e.peer,
        startMs: e.startMs,
        ...(e.endMs !== undefined ? { endMs: e.endMs } : {}),
        outcome: e.outcome,
        backup: e.backup,
        ...(e.error !== undefined ? { error: e.error } : {}),
        ...(e.group !== undefined ? { group: e.group } : {}),
      })),
    }
  }
}

/** Attempt ids are `${jobId}:${taskIndex}:${n}` with an optional `@${term}` (see the scheduler). */
export function attemptNumber (attemptId: string): number {
  // On the assign path of every task: string scans, no regex.
  const colon = attemptId.lastIndexOf(':')
  if (colon < 0) return 1
  const at = attemptId.indexOf('@', colon)
  const digits = attemptId.slice(colon + 1, at < 0 ? attemptId.length : at)
  const n = digits.length > 0 && digits.length < 10 ? Number(digits) : NaN
  return Number.isSafeInteger(n) && n >= 1 ? Math.min(n, 100_000) : 1
}
