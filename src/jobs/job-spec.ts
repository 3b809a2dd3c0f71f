import { z } from 'zod'
import { FAILURE_KIND_NAMES, type FailureKind } from './failure-kinds.js'
import { WaitingSchema } from './waiting.js'

// What a job is, as it travels between nodes. Parsed with these schemas wherever it
// arrives (control API, RPC) before any core sees it.

import { CodeHashSchema, JobIdSchema, PeerIdSchema } from './ids.js'
import { InputSourceSchema } from './input-source.js'

export { CodeHashSchema, JOB_ID_RE, JobIdSchema, PeerIdSchema } from './ids.js'

export const PrioritySchema = z.enum(['high', 'normal', 'low'])
export type Priority = z.infer<typeof PrioritySchema>
export const PRIORITY_WEIGHT: Record<Priority, number> = { high: 4, normal: 1, low: 0.25 }

export const RequiresSchema = z.object({
  tools: z.array(z.string().min(1).max(64)).max(32).optional(),
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
  memoryMB: z.number().int().min(0).max(1_048_576).optional(),
  cpus: z.number().int().min(0).max(1024).optional(),
  /** The job's tasks reach the network: only nodes started with --allow-network run them (a module says `network: true`). */
  network: z.boolean().optional(),
}).strict()
export type Requires = z.infer<typeof RequiresSchema>

/** Environment variables a job module gives its tasks (`env: { NAME: 'value' }`); sandbox.ts says which names are reserved. */
export const JobEnvSchema = z.record(z.string().max(128), z.string().max(4096))
  .refine(r => Object.keys(r).length <= 64, 'at most 64 variables')

/**
 * Job input: a JSON value; bytes carried as base64 (small programmatic inputs); or `source`:
 * files stored as blobs on their holders (spec.source says which), read where they lie.
 */
export const JobInputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('json'), value: z.unknown() }).strict(),
  z.object({ type: z.literal('bytes'), base64: z.string() }).strict(),
  z.object({ type: z.literal('source') }).strict(),
])
export type JobInput = z.infer<typeof JobInputSchema>

/** Failure kinds a job's retry policy may name (what a worker reports of a failed task). */
export const RETRYABLE_KINDS = ['threw', 'timeout', 'exited', 'oom', 'cpu-limit', 'too-large', 'not-serialisable', 'bad-input', 'input-gone', 'input-corrupt', 'input-denied', 'denied', 'protocol', 'lost'] as const satisfies readonly FailureKind[]
/**
 * A module's retry policy: `retries` runs after the first failure (default: the node's, 2), and
 * `on` the kinds of failure worth another run (default: any). A task that throws the same error
 * twice is not run again whatever the policy: the bug is in the code, not the node.
 */
export const RetryPolicySchema = z.object({
  retries: z.number().int().min(0).max(10).optional(),
  on: z.array(z.enum(RETRYABLE_KINDS)).max(RETRYABLE_KINDS.length).optional(),
}).strict()
export type RetryPolicy = z.infer<typeof RetryPolicySchema>

/** What a job that failed because of one task says of it: the task, its node, the kind, message and stack of its last failure. */
export const TaskFailureSchema = z.object({
  taskIndex: z.number().int().min(0),
  attempts: z.number().int().min(1),
  kind: z.enum(FAILURE_KIND_NAMES),
  message: z.string().max(16_384),
  stack: z.string().max(16_384).optional(),
  peerId: PeerIdSchema.optional(),
  /** Why it was not run again (e.g. the same error twice). */
  notRetried: z.string().max(256).optional(),
}).strict()
export type TaskFailure = z.infer<typeof TaskFailureSchema>

export const JobSpecSchema = z.object({
  jobId: JobIdSchema,
  kind: z.enum(['function', 'action']),
  codeHash: CodeHashSchema,
  moduleName: z.string().max(256),
  parts: z.number().int().min(1).max(1_000_000).optional(),
  priority: PrioritySchema,
  requires: RequiresSchema.optional(),
  env: JobEnvSchema.optional(),
  /** The job's input files, when it has some (input `source`): split into ranges, each task reads its own from a holder. */
  source: InputSourceSchema.optional(),
  /** The module has a combine(): a worker folds the results of a group of tasks into one before they travel. */
  combine: z.literal(true).optional(),
  /** The module's retry policy (`retries`, `retryOn`). */
  retry: RetryPolicySchema.optional(),
  /** The node whose API received the job: it follows the job for its client. */
  submitter: PeerIdSchema,
  /** When the submitter coordinates the job itself, a second node holds the submission until it is replicated. */
  standby: PeerIdSchema.optional(),
  /**
   * [first coordinator, backups…], fixed at submission: every term of the job — failover or
   * resubmission — votes in this same set, so any two majorities meet.
   */
  replicaSet: z.array(PeerIdSchema).min(1).max(16).optional(),
  submittedAtMs: z.number().min(0),
}).strict()
export type JobSpec = z.infer<typeof JobSpecSchema>

/** What a worker's sandbox grants a job's tasks beyond the default (tools travel on their own): its network and its env. */
export const GuestGrantsSchema = z.object({ network: z.literal(true).optional(), env: JobEnvSchema.optional() }).strict()
export type GuestGrants = z.infer<typeof GuestGrantsSchema>

/** The grants of `spec`'s tasks, or undefined when it asks for none (messages then carry nothing). */
export function guestGrantsOf (spec: Pick<JobSpec, 'requires' | 'env'>): GuestGrants | undefined {
  const network = spec.requires?.network === true
  const env = spec.env !== undefined && Object.keys(spec.env).length > 0 ? spec.env : undefined
  if (!network && env === undefined) return undefined
  return { ...(network ? { network: true as const } : {}), ...(env !== undefined ? { env } : {}) }
}

export const JobStateSchema = z.enum(['pending', 'splitting', 'running', 'reducing', 'done', 'failed', 'cancelled'])
export type JobState = z.infer<typeof JobStateSchema>
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled'])

/** A job as `meshwork jobs --json` and `GET /jobs/:id` show it. */
export const JobRecordSchema = z.object({
  jobId: JobIdSchema,
  kind: z.enum(['function', 'action']),
  moduleName: z.string().max(256),
  state: JobStateSchema,
  coordinator: PeerIdSchema,
  term: z.number().int().min(0),
  /** The coordinator first, then its backups in takeover order. */
  replicaSet: z.array(PeerIdSchema).max(16).optional(),
  submitter: PeerIdSchema,
  priority: PrioritySchema,
  tasks: z.number().int().min(0),
  done: z.number().int().min(0),
  inFlight: z.number().int().min(0),
  failures: z.number().int().min(0),
  tasksByPeer: z.record(z.string(), z.number()),
  submittedAtMs: z.number(),
  finishedAtMs: z.number().optional(),
  wallMs: z.number().optional(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  /** A job failed by one of its tasks: that task's last failure, its remote stack included. */
  failure: TaskFailureSchema.optional(),
  /**
   * Whether every backup acknowledged holding the job's replica (absent: an older node's record,
   * read as replicated). Until then the submitter keeps the job to send it again.
   */
  replicated: z.boolean().optional(),
  /** Coordinator-measured round trip of won task attempts (assign sent → result received). */
  taskRoundTripMs: z.object({ p50: z.number(), p99: z.number(), samples: z.number().int() }).strict().optional(),
  /** Why the job waits now, as its coordinator sees it (src/jobs/waiting.ts); absent while it does not. */
  waiting: WaitingSchema.optional(),
}).strict()
export type JobRecord = z.infer<typeof JobRecordSchema>
