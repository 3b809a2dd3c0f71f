import { readFile } from 'node:fs/promises'
import { FINAL_STATES, type JobInput, type JobRecord, type Priority } from '../../jobs/job-spec.js'
import type { MeshClient } from './client.js'
import type { SubmitRequest } from '../api/jobs-api.js'
import { prepareJobModule } from './job-module.js'
import { MeshworkError } from '../../util/errors.js'

// Submitting a job and following it to the end: shared by `meshwork submit` and the
// programmatic API. The node the client talks to elects the coordinator; we poll that node.

export class SubmitError extends MeshworkError { readonly code = 'submit' }

export type InputSource = { json: unknown } | { file: string } | { bytes: Uint8Array } | undefined

export interface SubmitOptions {
  parts?: number
  priority?: Priority
}

export async function buildSubmitRequest (modulePath: string, input: InputSource, opts: SubmitOptions = {}): Promise<SubmitRequest> {
  const jobInput = await readInput(input)
  const prepared = await prepareJobModule(modulePath)
  return {
    code: prepared.code,
    moduleName: prepared.moduleName,
    kind: prepared.kind,
    priority: opts.priority ?? 'normal',
    input: jobInput,
    ...(opts.parts !== undefined ? { parts: opts.parts } : {}),
    ...(prepared.requires !== undefined ? { requires: prepared.requires } : {}),
    ...(prepared.env !== undefined ? { env: prepared.env } : {}),
  }
}

async function readInput (input: InputSource): Promise<JobInput> {
  if (input === undefined) return { type: 'json', value: null }
  if ('json' in input) {
    try { JSON.stringify(input.json) } catch (err) { throw new SubmitError(`input is not JSON-serialisable: ${(err as Error).message}`) }
    return { type: 'json', value: input.json }
  }
  if ('bytes' in input) return { type: 'bytes', base64: Buffer.from(input.bytes).toString('base64') }
  try {
    return { type: 'bytes', base64: (await readFile(input.file)).toString('base64') }
  } catch (err) {
    throw new SubmitError(`cannot read input file ${input.file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
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
