import { z } from 'zod'
import { CodeHashSchema, GuestGrantsSchema, JobIdSchema, JobInputSchema, JobRecordSchema, JobSpecSchema, PeerIdSchema } from './job-spec.js'
import { GROUP_TASKS_MAX } from './scheduler-config.js'
import { SourceRefSchema } from './input-source.js'
import { JobTimelineSchema } from './task-timeline.js'
import { FOLDED, isFolded } from './folded.js'
import { FAILURE_KIND_NAMES } from './failure-kinds.js'
import { LogPageSchema, TaskLogsSchema } from './task-logs.js'
import { jsonText, RawJson } from './raw-json.js'

// The direct (non-gossip) messages between nodes. Every frame is parsed by `decodeRpc`
// before it reaches a core; anything else is dropped with a reason.

const TaskIndex = z.number().int().min(0).max(10_000_000)
const AttemptId = z.string().min(1).max(200)
const Term = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const ReplicaSet = z.array(PeerIdSchema).min(1).max(16)
const Tools = z.array(z.string().min(1).max(64)).max(32)
/** One of FAILURE_KINDS (src/jobs/failure-kinds.ts): a kind a node does not know is refused. */
const FailureKind = z.enum(FAILURE_KIND_NAMES)
const FailureText = z.string().max(16_384)
/** How long the task ran in its executor (ms): the coordinator keeps tasks too small to ship on its own node (SchedulerConfig.localRunBelowMsPerSlot). */
const RunMs = z.number().min(0).max(1e9)
/**
 * A group attempt's other tasks, [taskIndex, chunk] in an assign and [taskIndex, value] in its
 * result (SchedulerConfig.localGroupMax): the whole group runs as one attempt.
 */
const Group = z.array(z.tuple([TaskIndex, z.unknown()])).min(1).max(GROUP_TASKS_MAX)
/** Most distinct peers one job.progress names. */
const PROGRESS_PEERS_MAX = 4096
const ProgressPeer = z.number().int().min(0).max(PROGRESS_PEERS_MAX - 1)
/** Most tasks or results in one batch (the frame size limit is the real bound). */
const BATCH_ENTRIES_MAX = 1_000_000

/** What every task of a job shares in an assignment. */
const AssignShared = {
  jobId: JobIdSchema,
  term: Term,
  codeHash: CodeHashSchema,
  kind: z.enum(['function', 'action']),
  parts: z.number().int().min(1),
  /** The tools the job declares (`requires.tools`): the worker's sandbox lets the task run them only if it allows each. */
  tools: Tools.optional(),
  /** The job's network and env (job-spec.ts guestGrantsOf): the worker's sandbox grants them only if the node allows each. */
  guest: GuestGrantsSchema.optional(),
  /** The job reads stored input (spec.source): each chunk is an InputSplit the worker fetches from these holders. */
  source: SourceRefSchema.optional(),
  /** The job has a combine(): a group's worker folds its tasks' results into one (src/jobs/folded.ts). */
  combine: z.literal(true).optional(),
}

export const RpcMessageSchema = z.discriminatedUnion('t', [
  /** submitter node → coordinator (term > 1 when re-sent because the first coordinator died while splitting) */
  z.object({ t: z.literal('job.submit'), spec: JobSpecSchema, code: z.string(), input: JobInputSchema, term: Term }).strict(),
  /** submitter node (coordinating the job itself) → another node: hold the submission until it is replicated */
  z.object({ t: z.literal('job.standby'), spec: JobSpecSchema, code: z.string(), input: JobInputSchema }).strict(),
  z.object({ t: z.literal('job.standbyAck'), jobId: JobIdSchema }).strict(),
  /** coordinator → submitter node: the job is refused (submitter not allowed, or over its limits) */
  z.object({ t: z.literal('job.rejected'), jobId: JobIdSchema, term: Term, error: z.string().max(1024) }).strict(),
  /** coordinator → submitter node: the job arrived (the submitter's client is answered only then) */
  z.object({ t: z.literal('job.accepted'), jobId: JobIdSchema, term: Term }).strict(),
  /** coordinator → workers */
  z.object({ t: z.literal('task.assign'), ...AssignShared, taskIndex: TaskIndex, attemptId: AttemptId, chunk: z.unknown(), group: Group.optional() }).strict(),
  /** coordinator → a worker: task.assign messages of one job sent in one turn, the shared fields once (src/node/net/rpc/task-batches.ts) */
  z.object({ t: z.literal('task.assigns'), ...AssignShared, tasks: z.array(z.tuple([TaskIndex, AttemptId, z.unknown()])).min(1).max(BATCH_ENTRIES_MAX) }).strict(),
  z.object({ t: z.literal('task.abort'), attemptId: AttemptId }).strict(),
  /**
   * coordinator → workers, as a job arrives (before its split): start executors for it now, so
   * its first tasks do not wait for them. A hint only; nothing depends on it.
   */
  z.object({ t: z.literal('job.prepare'), jobId: JobIdSchema, codeHash: CodeHashSchema, tools: Tools.optional(), guest: GuestGrantsSchema.optional() }).strict(),
  /** workers → coordinator */
  /** `ms`: for a group, all its tasks together. `folded`: `value` is the group's combine(), its other tasks' values are null */
  /** `logs` (on task.ok and task.failed): what the attempt's tasks wrote to stdout and stderr, bounded as one task's (src/jobs/log-capture.ts) */
  z.object({ t: z.literal('task.ok'), jobId: JobIdSchema, taskIndex: TaskIndex, attemptId: AttemptId, value: z.unknown(), ms: RunMs, group: Group.optional(), folded: z.literal(true).optional(), logs: TaskLogsSchema.optional() }).strict().refine(m => m.folded === undefined || m.group !== undefined, { message: 'folded needs a group', path: ['folded'] }),
  /** `stack`: the remote stack of task code that threw */
  z.object({ t: z.literal('task.failed'), jobId: JobIdSchema, taskIndex: TaskIndex, attemptId: AttemptId, kind: FailureKind, error: FailureText, stack: FailureText.optional(), logs: TaskLogsSchema.optional() }).strict(),
  /** worker → coordinator: the outcomes of one job's tasks sent in one turn */
  z.object({
    t: z.literal('task.results'),
    jobId: JobIdSchema,
    ok: z.array(z.tuple([TaskIndex, AttemptId, z.unknown(), RunMs])).max(BATCH_ENTRIES_MAX),
    /** [taskIndex, attemptId, kind, error] or, with the remote stack, [..., stack] */
    failed: z.array(z.union([z.tuple([TaskIndex, AttemptId, FailureKind, FailureText]), z.tuple([TaskIndex, AttemptId, FailureKind, FailureText, FailureText])])).max(BATCH_ENTRIES_MAX),
    /** [attemptId, its output] for those of the batch's attempts that wrote any */
    logs: z.array(z.tuple([AttemptId, TaskLogsSchema])).max(BATCH_ENTRIES_MAX).optional(),
  }).strict(),
  /** code by content hash: a worker asks the coordinator, which answers with the code */
  z.object({ t: z.literal('code.get'), hash: CodeHashSchema }).strict(),
  z.object({ t: z.literal('code.put'), hash: CodeHashSchema, code: z.string() }).strict(),
  /** coordinator → submitter node: progress and the final record */
  z.object({ t: z.literal('job.update'), record: JobRecordSchema }).strict(),
  /**
   * any node → the job's replica set, coordinator and submitter (again until acknowledged), and a
   * holder of the cancelled job → a coordinator still running it: cancel it. Each holder keeps a
   * tombstone (src/jobs/replica-holder.ts). `record`: the job as the cancelling node shows it, cancelled.
   */
  z.object({ t: z.literal('job.cancel'), jobId: JobIdSchema, record: JobRecordSchema.optional() }).strict(),
  /** → the cancelling node: the tombstone is kept; `final`: the job already has this outcome (it stands) */
  z.object({ t: z.literal('job.cancelAck'), jobId: JobIdSchema, final: JobRecordSchema.optional() }).strict(),
  /** coordinator → backups: the job's task table, once split */
  /** `done`: results completed so far, when the replica is sent again (the first copy or progress was lost) */
  z.object({ t: z.literal('job.replica'), spec: JobSpecSchema, code: z.string(), chunks: z.array(z.unknown()), replicaSet: ReplicaSet, term: Term, done: z.array(z.union([z.tuple([TaskIndex, PeerIdSchema, z.unknown()]), z.tuple([TaskIndex, PeerIdSchema]).transform(([i, p]) => [i, p, FOLDED] as const)])).max(10_000_000).optional() }).strict(),
  /** backup → coordinator: the replica is stored; until then the coordinator sends it again */
  z.object({ t: z.literal('job.replicaAck'), jobId: JobIdSchema, term: Term }).strict(),
  /**
   * coordinator → backups: completed tasks and their results, batched. Each entry names the peer
   * that ran the task by its place in `peers`: a peer id in every entry was most of the message.
   */
  z.object({
    t: z.literal('job.progress'),
    jobId: JobIdSchema,
    term: Term,
    peers: z.array(PeerIdSchema).max(PROGRESS_PEERS_MAX),
    /** A folded task's entry has no value (src/jobs/folded.ts). */
    done: z.array(z.union([z.tuple([TaskIndex, ProgressPeer, z.unknown()]), z.tuple([TaskIndex, ProgressPeer]).transform(([i, p]) => [i, p, FOLDED] as const)])).max(1_000_000),
  }).strict().refine(m => m.done.every(([, peer]) => peer < m.peers.length), { message: 'a done entry names a peer beyond peers', path: ['done'] }),
  /** failover votes within a job's replica set (see src/election/replica-set.ts) */
  z.object({ t: z.literal('job.claim'), jobId: JobIdSchema, term: Term }).strict(),
  /** `cancelled`: the member holds the job cancelled (a tombstone): the claimer stops, and keeps one too */
  z.object({ t: z.literal('job.claimReply'), jobId: JobIdSchema, term: Term, ok: z.boolean(), promisedTerm: Term, final: JobRecordSchema.optional(), cancelled: z.boolean().optional() }).strict(),
  /** coordinator → members, before the reduce: do I still hold the job? (a member's promise is not changed) */
  z.object({ t: z.literal('job.confirm'), jobId: JobIdSchema, term: Term }).strict(),
  z.object({ t: z.literal('job.confirmReply'), jobId: JobIdSchema, term: Term, ok: z.boolean(), promisedTerm: Term }).strict(),
  z.object({ t: z.literal('job.commit'), jobId: JobIdSchema, term: Term, record: JobRecordSchema }).strict(),
  z.object({ t: z.literal('job.commitReply'), jobId: JobIdSchema, term: Term, ok: z.boolean(), promisedTerm: Term }).strict(),
  /** new coordinator → every live peer: workers drop the old term, a stale coordinator yields */
  z.object({ t: z.literal('job.takeover'), jobId: JobIdSchema, term: Term, coordinator: PeerIdSchema }).strict(),
  /** draining coordinator → a backup: claim the job now (see ReplicaStore.onHandover) */
  z.object({ t: z.literal('job.handover'), jobId: JobIdSchema, term: Term }).strict(),
  /** any node → peers: who knows this job? (`meshwork result` on a node that never saw it) */
  z.object({ t: z.literal('job.query'), jobId: JobIdSchema }).strict(),
  z.object({ t: z.literal('job.found'), record: JobRecordSchema }).strict(),
  /** any node → a job's coordinator: its task attempts for the dashboard's timeline (none if it has no copy) */
  z.object({ t: z.literal('timeline.get'), jobId: JobIdSchema }).strict(),
  z.object({ t: z.literal('timeline.found'), jobId: JobIdSchema, timeline: JobTimelineSchema.optional() }).strict(),
  /** any node → a job's coordinator: its task output after line `after` (`meshwork logs`; no page if it keeps none) */
  z.object({ t: z.literal('logs.get'), jobId: JobIdSchema, after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict(),
  /** `state`: the job's state as the coordinator knows it (a follower stops once it is final and no lines are left) */
  z.object({ t: z.literal('logs.found'), jobId: JobIdSchema, after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), page: LogPageSchema.optional(), state: z.string().max(32).optional() }).strict(),
])
export type RpcMessage = z.infer<typeof RpcMessageSchema>

type Progress = Extract<RpcMessage, { t: 'job.progress' }>
/** A completed task: its index, the peer that ran it, its result. */
export type DoneEntry = readonly [number, string, unknown]

/** `done` as job.progress carries it: every peer id once, in `peers`. */
export function packProgress (done: ReadonlyArray<DoneEntry>): Pick<Progress, 'peers' | 'done'> {
  const peers: string[] = []
  const at = new Map<string, number>()
  const entries: Progress['done'] = []
  for (const [index, peerId, result] of done) {
    let i = at.get(peerId)
    if (i === undefined) {
      i = peers.push(peerId) - 1
      at.set(peerId, i)
    }
    entries.push([index, i, result])
  }
  return { peers, done: entries }
}

export type RpcDecodeResult = { ok: true, message: RpcMessage } | { ok: false, reason: string }

/**
 * A frame that starts with this byte (a JSON text starts with '{') carries results as
 * attachments: the byte, the header's length (u32 BE), the number of attachments n (u32 BE),
 * n lengths (u32 BE), the header (the message as JSON, each result replaced by its attachment's
 * index), then the attachments (each result's JSON text, as the executor wrote it).
 */
export const ATTACHED_FRAME = 0x01
/** Most attachments in one frame (a batch of results holds one per task). */
const ATTACHMENTS_MAX = 1_000_000

export function decodeRpc (payload: Uint8Array): RpcDecodeResult {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const attached = bytes[0] === ATTACHED_FRAME ? splitAttached(bytes) : undefined
  if (typeof attached === 'string') return { ok: false, reason: attached }
  let json: unknown
  try {
    json = JSON.parse(attached !== undefined ? attached.header : bytes.toString('utf8'))
  } catch {
    return { ok: false, reason: 'not JSON' }
  }
  const parsed = RpcMessageSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: `invalid rpc message: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}` }
  }
  if (attached === undefined) return { ok: true, message: parsed.data }
  // Each result is an attachment named by its index, each attachment one result.
  const used = new Uint8Array(attached.texts.length)
  let bad: string | undefined
  const message = mapResults(parsed.data, ref => {
    if (typeof ref !== 'number' || !Number.isInteger(ref) || ref < 0 || ref >= attached.texts.length || used[ref] === 1) {
      bad ??= `a result names attachment ${JSON.stringify(ref)} of ${attached.texts.length}, or one named already`
      return null
    }
    used[ref] = 1
    return new RawJson(attached.texts[ref] as string)
  })
  if (message === undefined) return { ok: false, reason: `a ${parsed.data.t} message carries no results, and came with attachments` }
  if (bad !== undefined) return { ok: false, reason: bad }
  if (used.includes(0)) return { ok: false, reason: 'an attachment is no result of the message' }
  return { ok: true, message }
}

export function encodeRpc (message: RpcMessage): Uint8Array {
  const texts: string[] = []
  const header = mapResults(message, value => texts.push(jsonText(value)) - 1)
  if (header === undefined) return Buffer.from(JSON.stringify(message), 'utf8')
  return encodeAttached(JSON.stringify(withFoldedOut(header)), texts)
}

/** A frame of a header (JSON text) and its attachments (see ATTACHED_FRAME). */
export function encodeAttached (header: string, texts: readonly string[]): Buffer {
  const headerBytes = Buffer.byteLength(header)
  const lengths = texts.map(t => Buffer.byteLength(t))
  let size = 1 + 8 + 4 * texts.length + headerBytes
  for (const n of lengths) size += n
  const out = Buffer.allocUnsafe(size)
  out[0] = ATTACHED_FRAME
  out.writeUInt32BE(headerBytes, 1)
  out.writeUInt32BE(texts.length, 5)
  let at = 9
  for (const n of lengths) { out.writeUInt32BE(n, at); at += 4 }
  at += out.write(header, at, 'utf8')
  for (const t of texts) at += out.write(t, at, 'utf8')
  return out
}

/** The header and attachments of an attached frame, or why it is malformed. */
function splitAttached (bytes: Buffer): { header: string, texts: string[] } | string {
  if (bytes.length < 9) return 'attached frame shorter than its lengths'
  const headerBytes = bytes.readUInt32BE(1)
  const n = bytes.readUInt32BE(5)
  if (n > ATTACHMENTS_MAX) return `attached frame of ${n} attachments, more than ${ATTACHMENTS_MAX}`
  let at = 9 + 4 * n
  if (at > bytes.length) return 'attached frame shorter than its lengths'
  const header = bytes.toString('utf8', at, at + headerBytes)
  at += headerBytes
  const texts: string[] = []
  for (let i = 0; i < n; i++) {
    const length = bytes.readUInt32BE(9 + 4 * i)
    if (at + length > bytes.length) return `attached frame cut short in attachment ${i}`
    texts.push(bytes.toString('utf8', at, at + length))
    at += length
  }
  if (at !== bytes.length) return `attached frame has ${bytes.length - at} bytes after its attachments`
  return { header, texts }
}

/**
 * The message with each of its results replaced by `f(result)` (folded tasks' slots kept), or
 * undefined when its kind carries no results.
 */
export function mapResults (m: RpcMessage, f: (result: unknown) => unknown): RpcMessage | undefined {
  switch (m.t) {
    case 'task.ok': {
      const out = { ...m, value: f(m.value) }
      if (m.group !== undefined && m.folded !== true) out.group = m.group.map(([i, v]) => [i, f(v)])
      return out
    }
    case 'task.results': return { ...m, ok: m.ok.map(([i, a, v, ms]) => [i, a, f(v), ms]) }
    case 'job.progress': return { ...m, done: m.done.map(e => isFolded(e[2]) ? e : [e[0], e[1], f(e[2])]) }
    case 'job.replica': return m.done === undefined ? m : { ...m, done: m.done.map(e => isFolded(e[2]) ? e : [e[0], e[1], f(e[2])]) }
    default: return undefined
  }
}

/** A folded task's done entry travels without a value (JSON has no symbol; it would say null). */
function withFoldedOut (message: RpcMessage): unknown {
  if ((message.t !== 'job.progress' && message.t !== 'job.replica') || message.done === undefined) return message
  if (!message.done.some(entry => isFolded(entry[2]))) return message
  return { ...message, done: message.done.map(entry => isFolded(entry[2]) ? [entry[0], entry[1]] : entry) }
}
