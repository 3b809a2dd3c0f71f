// The executor channel is a wire like any other: task code runs in the executor and can send
// anything on it (`process.send` is within its reach), so every message is parsed here before the
// pool reads a field. A message that does not parse ends that executor (ExecutorPool: 'protocol').
import { z } from 'zod'
import type { ChildMessage } from './executor-protocol.js'
import { TaskLogsSchema } from '../../jobs/task-logs.js'

/** Most results in one message (the child sends one per task it ran since the last one). */
const RESULTS_MAX = 100_000
const Id = z.string().min(1).max(256)
const Duration = z.number().finite().min(0)
/** A group's other results (SchedulerConfig.localGroupMax is at most GROUP_TASKS_MAX). */
const GROUP_RESULTS_MAX = 1024

/** A success; a trailing 1: the value is its group's combine(). */
const PackedOk = z.union([z.tuple([Id, z.string(), Duration]), z.tuple([Id, z.string(), Duration, z.union([z.literal(1), z.array(z.string()).max(GROUP_RESULTS_MAX)])])])
const PackedFailed = z.object({
  id: Id,
  ok: z.literal(false),
  kind: z.enum(['threw', 'not-serialisable', 'bad-module', 'denied', 'too-large', 'oom', 'bad-input']),
  error: z.string().max(1_000_000),
  stack: z.string().max(1_000_000).optional(),
  durationMs: Duration,
}).strict()

export const ChildMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ready') }).strict(),
  /** `logs`: a task's output, bounded as the child bounds it (a task's lines and characters, src/jobs/log-capture.ts). */
  z.object({ t: z.literal('done'), results: z.array(z.union([PackedOk, PackedFailed])).max(RESULTS_MAX), logs: z.array(z.tuple([Id, TaskLogsSchema])).max(RESULTS_MAX).optional() }).strict(),
])

export type ParsedChildMessage = { ok: true, message: ChildMessage } | { ok: false, error: string }

export function parseChildMessage (raw: unknown): ParsedChildMessage {
  const parsed = ChildMessageSchema.safeParse(raw)
  if (parsed.success) return { ok: true, message: parsed.data as ChildMessage }
  const issue = parsed.error.issues[0]
  const where = issue === undefined || issue.path.length === 0 ? 'the message' : issue.path.join('.')
  return { ok: false, error: `the executor sent a malformed message (${where}: ${issue?.message ?? 'invalid'})` }
}
