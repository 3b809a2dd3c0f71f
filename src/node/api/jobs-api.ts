import { createHash, randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { z } from 'zod'
import { coordinatorFor, type ElectionStrategy, type Member } from '../../election/strategy.js'
import { FINAL_STATES, RetryPolicySchema, JobEnvSchema, JobIdSchema, JobInputSchema, PrioritySchema, RequiresSchema, type JobInput, type JobRecord, type JobSpec } from '../../jobs/job-spec.js'
import { unsatisfiable, type NodeCaps } from '../../jobs/requires.js'
import { BLOB_NAME_MAX, BlobIdSchema, RecordsSchema, SharedPathSchema, SOURCE_FILES_MAX, type InputSource, type SourceFile } from '../../jobs/input-source.js'
import { jobEnvProblem } from '../executor/sandbox.js'
import { ApiError, pathParam, type ApiServer } from './api-server.js'
import type { JobRegistry } from '../daemon/job-registry.js'
import { HISTORY_RESULT_BYTES_MAX, type HistoryEntry, type HistoryRecord } from '../daemon/job-history.js'
import { SubmissionRejectedError, SubmissionsFullError, type JobSubmissions } from '../daemon/job-submissions.js'
import { LogsUnknownJobError, type LogsAnswer } from '../daemon/logs-service.js'

// Control-API routes for jobs: submit (the node elects the job's coordinator and hands it
// over), list, read one, cancel. Request bodies are parsed with schemas; errors name the field.

export const SubmitRequestSchema = z.object({
  code: z.string().min(1),
  moduleName: z.string().max(256),
  kind: z.enum(['function', 'action']),
  parts: z.number().int().min(1).max(1_000_000).optional(),
  priority: PrioritySchema.default('normal'),
  requires: RequiresSchema.optional(),
  env: JobEnvSchema.optional(),
  input: z.union([
    JobInputSchema,
    /** Files uploaded to this node first (PUT /blobs): the job reads them where they lie. */
    z.object({ type: z.literal('blobs'), files: z.array(z.object({ blob: BlobIdSchema, name: z.string().max(BLOB_NAME_MAX) }).strict()).min(1).max(SOURCE_FILES_MAX) }).strict(),
    /** A file or directory at the same path on every node (`--input-shared`, e.g. NFS): each node reads its splits locally. */
    z.object({ type: z.literal('shared'), path: SharedPathSchema }).strict(),
  ]),
  /** How the input files are cut into records (the module's `records`). */
  records: RecordsSchema.optional(),
  /** The module exports combine(): workers fold their tasks' results before they travel. */
  combine: z.literal(true).optional(),
  /** The module's retry policy. */
  retry: RetryPolicySchema.optional(),
}).strict()
export type SubmitRequest = z.input<typeof SubmitRequestSchema>

/** A submission carries the bundled code and the input (base64 for bytes). */
export const SUBMIT_BYTES_MAX = 256 * 1024 * 1024

export interface JobsApiDeps {
  selfId: string
  election: ElectionStrategy
  members: () => Member[]
  registry: JobRegistry
  /** Finished jobs kept on disk (`GET /jobs?all=1`, `meshwork jobs --all`); none when absent. */
  history?: { list: () => HistoryRecord[], get: (jobId: string) => HistoryEntry | undefined }
  submissions: JobSubmissions
  /** Ask the mesh for a job this node does not know. */
  query: (jobId: string) => Promise<JobRecord | undefined>
  cancel: (record: JobRecord) => void
  /** Backups per job: the replica set is the coordinator and the next `backups` in election order. */
  backups: number
  wallMs: () => number
  /** What each live node offers: a job whose `requires` none satisfies is refused at once. */
  capabilities?: () => NodeCaps[]
  /** Peer ids allowed to submit jobs (--allow-submit); undefined: every peer of the mesh. */
  allowSubmit?: ReadonlySet<string>
  /** Most unfinished jobs this node may have submitted at once (--max-jobs-per-submitter). */
  jobsPerSubmitterMax?: number
  /** Largest submission body: peers refuse larger messages (--max-message-bytes), so refuse it here first. */
  submitBytesMax?: number
  /** A job's task output (GET /jobs/:id/logs), from this node or the job's coordinator. */
  logs?: { get: (jobId: string, after: number) => Promise<LogsAnswer> }
  /** The blobs this node holds (a job's input files were uploaded to it). */
  blobs?: { manifest: (id: string) => Promise<{ size: number } | undefined> }
}

export function registerJobRoutes (api: ApiServer, deps: JobsApiDeps): void {
  api.route('POST', '/jobs', async req => {
    const parsed = SubmitRequestSchema.safeParse(req.body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new ApiError(400, `invalid job: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'invalid'}`)
    }
    const body = parsed.data
    if (deps.allowSubmit !== undefined && !deps.allowSubmit.has(deps.selfId)) {
      throw new ApiError(403, `this node (${deps.selfId}) may not submit jobs: it is not in its --allow-submit list`)
    }
    const unfinished = deps.registry.list().filter(r => r.submitter === deps.selfId && !FINAL_STATES.has(r.state)).length
    if (deps.jobsPerSubmitterMax !== undefined && unfinished >= deps.jobsPerSubmitterMax) {
      throw new ApiError(429, `this node already has ${unfinished} unfinished jobs, the limit (--max-jobs-per-submitter ${deps.jobsPerSubmitterMax}); wait for one to finish`)
    }
    let source: InputSource | undefined
    let input: JobInput
    if (body.input.type === 'blobs') {
      const files: SourceFile[] = []
      for (const f of body.input.files) {
        const m = await deps.blobs?.manifest(f.blob)
        if (m === undefined) throw new ApiError(400, `invalid job: input ${JSON.stringify(f.name)}: this node holds no blob ${f.blob}; upload the file with PUT /blobs first`)
        files.push({ blob: f.blob, size: m.size, name: f.name })
      }
      if (body.records?.whole === true && files.length > 1) throw new ApiError(400, `invalid job: records 'whole' gives the module's split() one file, and the input has ${files.length}`)
      source = { files, holders: [deps.selfId], ...(body.records !== undefined ? { records: body.records } : {}) }
      input = { type: 'source' }
    } else if (body.input.type === 'shared') {
      const files = await sharedFiles(body.input.path)
      if (body.records?.whole === true && files.length > 1) throw new ApiError(400, `invalid job: records 'whole' gives the module's split() one file, and the input has ${files.length}`)
      source = { files, holders: [deps.selfId], ...(body.records !== undefined ? { records: body.records } : {}) }
      input = { type: 'source' }
    } else if (body.input.type === 'source') {
      throw new ApiError(400, 'invalid job: input.type: "source" is the mesh\'s own; upload files with PUT /blobs and give { type: "blobs", files }')
    } else {
      input = body.input
    }
    const envProblem = jobEnvProblem(body.env)
    if (envProblem !== undefined) throw new ApiError(400, `job cannot run: ${envProblem}`)
    const why = deps.capabilities === undefined ? undefined : unsatisfiable(body.requires, deps.capabilities())
    if (why !== undefined) throw new ApiError(422, `job cannot run: ${why}${/tools\./.test(why) ? ' (a node offers a tool only when it is on its PATH and, in the task sandbox, allowed with --allow-exec)' : ''}`)
    const jobId = `j${deps.wallMs().toString(36)}${randomBytes(5).toString('hex')}`
    const coordinator = coordinatorFor(deps.election, jobId, deps.members())
    if (coordinator === undefined) throw new ApiError(503, `no live node can coordinate jobs (election ${deps.election.name})`)
    const spec: JobSpec = {
      jobId,
      kind: body.kind,
      codeHash: createHash('sha256').update(body.code).digest('hex'),
      moduleName: body.moduleName,
      priority: body.priority,
      submitter: deps.selfId,
      submittedAtMs: deps.wallMs(),
      ...(body.parts !== undefined ? { parts: body.parts } : {}),
      ...(body.requires !== undefined ? { requires: body.requires } : {}),
      ...(body.env !== undefined ? { env: body.env } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(body.combine === true && body.kind === 'function' ? { combine: true as const } : {}),
      ...(body.retry !== undefined ? { retry: body.retry } : {}),
    }
    const ranked = deps.election.rank(jobId, deps.members())
    spec.replicaSet = [coordinator, ...ranked.filter(p => p !== coordinator).slice(0, deps.backups)]
    if (coordinator === deps.selfId) {
      // This node alone would hold the job until it is replicated: a second node keeps a copy.
      const standby = deps.election.rank(jobId, deps.members()).find(p => p !== deps.selfId)
      if (standby !== undefined) spec.standby = standby
    }
    const record: JobRecord = {
      jobId, kind: spec.kind, moduleName: spec.moduleName, state: 'pending', coordinator, term: 0, submitter: deps.selfId,
      priority: spec.priority, tasks: 0, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: spec.submittedAtMs,
    }
    deps.registry.upsert(record, deps.wallMs())
    // Answer only once a coordinator has the job: a job id the client holds is never lost with this node.
    try {
      await deps.submissions.submit(spec, body.code, input, coordinator)
    } catch (err) {
      if (err instanceof SubmissionsFullError) throw new ApiError(503, err.message)
      if (err instanceof SubmissionRejectedError) {
        deps.registry.upsert({ ...record, state: 'failed', error: err.message }, deps.wallMs())
        throw new ApiError(403, err.message)
      }
      throw err
    }
    return { jobId, coordinator: deps.registry.get(jobId)?.coordinator ?? coordinator }
  }, { bodyBytesMax: Math.min(SUBMIT_BYTES_MAX, deps.submitBytesMax ?? SUBMIT_BYTES_MAX) })

  api.route('GET', '/jobs', req => {
    const live = deps.registry.list().map(withoutResult)
    if (!allFrom(req.query)) return { jobs: live }
    // The registry's record is the newer word on a job it still holds; the oldest submitted first.
    const jobs = new Map<string, HistoryRecord>()
    for (const r of deps.history?.list() ?? []) jobs.set(r.jobId, r)
    for (const r of live) jobs.set(r.jobId, r)
    return { jobs: [...jobs.values()].sort((a, b) => a.submittedAtMs - b.submittedAtMs) }
  })

  api.route('GET', '/jobs/*', async req => {
    if (req.path.endsWith('/logs')) return await jobLogs(deps, req.path.slice(0, -'/logs'.length), req.query)
    const jobId = jobIdFrom(req.path, '/jobs/')
    const waitMs = waitFrom(req.query)
    const known = deps.registry.get(jobId)
    // After the registry, the history (a job finished before this node restarted, or long ago),
    // unless it lost the result for its size: then a peer may still hold it.
    const kept = known === undefined ? deps.history?.get(jobId) : undefined
    let record = known ?? (kept !== undefined && kept.resultOmittedBytes === undefined ? kept.record : await deps.query(jobId))
    if (record === undefined && kept !== undefined) {
      throw new ApiError(410, `job ${jobId} ${kept.record.state} at ${new Date(kept.record.finishedAtMs ?? 0).toISOString()}; its result (${kept.resultOmittedBytes} bytes of JSON) is no longer held by any live node, and results over ${HISTORY_RESULT_BYTES_MAX} bytes are not kept in the history (\`meshwork jobs --all\` lists the job)`)
    }
    if (record === undefined) throw new ApiError(404, `unknown job ${jobId}: no live node knows it (results are kept for a limited time)`)
    // A long poll: an unfinished job's record is sent once it changes (or the wait is up), so a
    // client following a job asks a few times per update instead of polling on a timer. Only for
    // a job this node's registry holds: one found by asking the mesh gets no updates here.
    if (waitMs > 0 && known !== undefined && !FINAL_STATES.has(record.state)) {
      await deps.registry.changed(jobId, waitMs)
      record = deps.registry.get(jobId) ?? record
    }
    return record
  })

  api.route('POST', '/jobs/*', async req => {
    const [jobId, action] = req.path.slice('/jobs/'.length).split('/')
    if (action !== 'cancel') throw new ApiError(404, `No route POST ${req.path}`)
    const id = jobIdFrom(`/jobs/${jobId ?? ''}`, '/jobs/')
    const record = deps.registry.get(id) ?? await deps.query(id)
    if (record === undefined) throw new ApiError(404, `unknown job ${id}`)
    if (FINAL_STATES.has(record.state)) throw new ApiError(409, `job ${id} already ${record.state}`)
    deps.cancel(record)
    return { jobId: id, cancelling: true }
  })
}

/** GET /jobs/:id/logs[?after=SEQ]: the job's task output after line SEQ (LogsAnswer). */
async function jobLogs (deps: JobsApiDeps, path: string, query: URLSearchParams): Promise<LogsAnswer> {
  const jobId = jobIdFrom(path, '/jobs/')
  if (deps.logs === undefined) throw new ApiError(404, `No route GET ${path}/logs`)
  const text = query.get('after') ?? '0'
  const after = Number(text)
  if (text === '' || !Number.isSafeInteger(after) || after < 0) throw new ApiError(400, `invalid after ${JSON.stringify(text.slice(0, 40))}: expected a line number (the \`next\` of the previous answer), 0 or more`)
  try {
    return await deps.logs.get(jobId, after)
  } catch (err) {
    if (err instanceof LogsUnknownJobError) throw new ApiError(404, err.message)
    throw err
  }
}

/** Longest long poll (`?wait=` on GET /jobs/:id), in ms. */
export const JOB_WAIT_MS_MAX = 30_000

function waitFrom (query: URLSearchParams): number {
  const text = query.get('wait')
  if (text === null) return 0
  const ms = Number(text)
  if (text === '' || !Number.isInteger(ms) || ms < 0 || ms > JOB_WAIT_MS_MAX) throw new ApiError(400, `invalid wait ${JSON.stringify(text.slice(0, 40))}: expected whole milliseconds from 0 to ${JOB_WAIT_MS_MAX}`)
  return ms
}

/** `?all=1` (or `true`): the history too; `0`, `false` or absent: the jobs the registry holds. */
function allFrom (query: URLSearchParams): boolean {
  const text = query.get('all')
  if (text === null || text === '0' || text === 'false') return false
  if (text === '1' || text === 'true') return true
  throw new ApiError(400, `invalid all ${JSON.stringify(text.slice(0, 40))}: expected 1, true, 0 or false`)
}

function jobIdFrom (path: string, prefix: string): string {
  const id = pathParam(path, prefix)
  if (!JobIdSchema.safeParse(id).success) throw new ApiError(400, `invalid job id ${JSON.stringify(id.slice(0, 80))}`)
  return id
}

function withoutResult (record: JobRecord): Omit<JobRecord, 'result'> {
  const { result: _result, ...rest } = record
  return rest
}

/** A shared input's files as this node sees them: the file, or a directory's visible files sorted by name. */
async function sharedFiles (path: string): Promise<SourceFile[]> {
  let st
  try { st = await stat(path) } catch { throw new ApiError(400, `invalid job: shared input ${path} is not on this node (--input-shared names a path every node has)`) }
  if (st.isFile()) return [{ path, size: st.size, name: basename(path) }]
  if (!st.isDirectory()) throw new ApiError(400, `invalid job: shared input ${path} is neither a file nor a directory`)
  const names = (await readdir(path)).filter(n => !n.startsWith('.')).sort()
  const files: SourceFile[] = []
  for (const name of names) {
    const file = join(path, name)
    const s = await stat(file).catch(() => undefined)
    if (s?.isFile() === true) files.push({ path: file, size: s.size, name })
    if (files.length > SOURCE_FILES_MAX) throw new ApiError(400, `invalid job: shared input ${path} has more than ${SOURCE_FILES_MAX} files`)
  }
  if (files.length === 0) throw new ApiError(400, `invalid job: shared input ${path} is a directory without files`)
  return files
}
