import { readdir, stat } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import { SOURCE_FILES_MAX } from '../../jobs/input-source.js'
import { FINAL_STATES, type JobRecord, type Priority } from '../../jobs/job-spec.js'
import type { MeshClient } from './client.js'
import type { SubmitRequest } from '../api/jobs-api.js'
import { prepareJobModule } from './job-module.js'
import { MeshworkError } from '../../util/errors.js'

// Submitting a job and following it to the end: shared by `meshwork submit` and the
// programmatic API. The node the client talks to elects the coordinator; we poll that node.

export class SubmitError extends MeshworkError { readonly code = 'submit' }

/**
 * A job's input: a JSON value; bytes; or a file or directory (`file`), uploaded to the node as
 * bytes and read by each task where it lies — a file in ranges of records, a directory one file
 * per task.
 */
/** `shared`: a path every node has (--input-shared): nothing is uploaded. */
export type InputSource = { json: unknown } | { file: string } | { bytes: Uint8Array } | { shared: string } | undefined

export interface SubmitOptions {
  parts?: number
  priority?: Priority
}

/** A job ready to send: the module bundled and checked, the input not yet uploaded. */
export interface PreparedJob {
  request: Omit<SubmitRequest, 'input'>
  input: InputSource
  /** Files to upload (a directory's, sorted by name), when the input is a path. */
  files?: Array<{ path: string, name: string }>
}

export async function prepareJob (modulePath: string, input: InputSource, opts: SubmitOptions = {}): Promise<PreparedJob> {
  const files = input !== undefined && 'file' in input ? await inputFiles(input.file) : undefined
  if (input !== undefined && 'json' in input) {
    try { JSON.stringify(input.json) } catch (err) { throw new SubmitError(`input is not JSON-serialisable: ${(err as Error).message}`) }
  }
  const prepared = await prepareJobModule(modulePath)
  const request: PreparedJob['request'] = {
    code: prepared.code,
    moduleName: prepared.moduleName,
    kind: prepared.kind,
    priority: opts.priority ?? 'normal',
    ...(opts.parts !== undefined ? { parts: opts.parts } : {}),
    ...(prepared.requires !== undefined ? { requires: prepared.requires } : {}),
    ...(prepared.env !== undefined ? { env: prepared.env } : {}),
    ...(prepared.records !== undefined ? { records: prepared.records } : {}),
    ...(prepared.combine === true ? { combine: true } : {}),
    ...(prepared.retry !== undefined ? { retry: prepared.retry } : {}),
  }
  return { request, input, ...(files !== undefined ? { files } : {}) }
}

/** Uploads the job's files or bytes to the node (PUT /blobs), then submits it (POST /jobs). */
export async function sendJob (client: MeshClient, job: PreparedJob): Promise<{ jobId: string, coordinator: string }> {
  let input: SubmitRequest['input']
  if (job.input === undefined) input = { type: 'json', value: null }
  else if ('json' in job.input) input = { type: 'json', value: job.input.json }
  else if ('shared' in job.input) input = { type: 'shared', path: job.input.shared }
  else if ('bytes' in job.input) {
    const { blob } = await client.upload({ bytes: job.input.bytes })
    input = { type: 'blobs', files: [{ blob, name: 'input' }] }
  } else {
    const files = job.files ?? await inputFiles(job.input.file)
    const uploaded = []
    for (const f of files) uploaded.push({ blob: (await client.upload({ file: f.path })).blob, name: f.name })
    input = { type: 'blobs', files: uploaded }
  }
  return await client.post<{ jobId: string, coordinator: string }>('/jobs', { ...job.request, input })
}

/** A request with its input inline, for JSON inputs (and small bytes, as base64): no upload. */
export async function buildSubmitRequest (modulePath: string, input: InputSource, opts: SubmitOptions = {}): Promise<SubmitRequest> {
  if (input !== undefined && 'file' in input) throw new SubmitError('a file input is uploaded, not inlined: use prepareJob and sendJob')
  const job = await prepareJob(modulePath, input, opts)
  const inline: SubmitRequest['input'] = input === undefined
    ? { type: 'json', value: null }
    : 'json' in input ? { type: 'json', value: input.json } : 'shared' in input ? { type: 'shared', path: input.shared } : { type: 'bytes', base64: Buffer.from(input.bytes).toString('base64') }
  return { ...job.request, input: inline }
}

/** The files of an input path: the file itself, or a directory's files (recursively, hidden ones left out). */
async function inputFiles (path: string): Promise<Array<{ path: string, name: string }>> {
  let s
  try {
    s = await stat(path)
  } catch (err) {
    throw new SubmitError(`cannot read input file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`)
  }
  if (s.isFile()) return [{ path, name: basename(path) }]
  if (!s.isDirectory()) throw new SubmitError(`input ${path} is neither a file nor a directory`)
  const names = (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter(d => d.isFile() && !relative(path, join(d.parentPath, d.name)).split(sep).some(part => part.startsWith('.')))
    .map(d => relative(path, join(d.parentPath, d.name)))
    .sort()
  if (names.length === 0) throw new SubmitError(`input directory ${path} holds no files`)
  if (names.length > SOURCE_FILES_MAX) throw new SubmitError(`input directory ${path} holds ${names.length} files; a job takes at most ${SOURCE_FILES_MAX}`)
  return names.map(name => ({ path: join(path, name), name }))
}

export interface FollowRetries {
  /** Failed requests in a row tolerated before the error is thrown (default 0). */
  retries?: number
  /** Called for each failed request that is retried. */
  onRetry?: (err: unknown) => void
}

/** Follow the job with long polls (at most one request per `pollMs`) until it reaches a final state. */
export async function followJob (client: MeshClient, jobId: string, onProgress?: (record: JobRecord) => void, pollMs = 100, retry: FollowRetries = {}): Promise<JobRecord> {
  let failedInARow = 0
  for (;;) {
    const asked = performance.now()
    let record: JobRecord | undefined
    try {
      record = await client.get<JobRecord>(jobFollowPath(jobId))
      failedInARow = 0
    } catch (err) {
      if (++failedInARow > (retry.retries ?? 0)) throw err
      retry.onRetry?.(err)
    }
    if (record !== undefined) {
      onProgress?.(record)
      if (FINAL_STATES.has(record.state)) return record
    }
    await untilNextPoll(asked, pollMs)
  }
}

/** GET path that answers once the job's record changes (a long poll of up to FOLLOW_WAIT_MS). */
export function jobFollowPath (jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}?wait=${FOLLOW_WAIT_MS}`
}

/** Long polls answer on every record update: still at most one request per `pollMs`. */
async function untilNextPoll (askedAtMs: number, pollMs: number): Promise<void> {
  const left = askedAtMs + pollMs - performance.now()
  if (left > 0) await new Promise(resolve => setTimeout(resolve, left))
}

/** Under the client's request timeout and the node's JOB_WAIT_MS_MAX. */
const FOLLOW_WAIT_MS = 10_000
