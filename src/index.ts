// The programmatic API:
//   import { connect } from 'meshwork'
//   const mesh = await connect()                  // the node recorded in ~/.meshwork, or { api: URL }
//   const { result } = await mesh.submit('examples/primes.mjs', { from: 0, to: 1e6 }, { parts: 16 })
import './polyfill.js'
import type { JobRecord, Priority } from './jobs/job-spec.js'
import { MeshClient, type ClientOptions } from './node/cli/client.js'
import type { StatusView } from './node/cli/status-view.js'
import { followJob, prepareJob, sendJob, type InputSource } from './node/cli/submit.js'
import { MeshworkError } from './util/errors.js'

export { MeshworkError }

export type { JobRecord, Priority } from './jobs/job-spec.js'
export type { StatusView } from './node/cli/status-view.js'

export interface JobResult {
  jobId: string
  coordinator: string
  result: unknown
  tasks: number
  wallMs: number
  tasksByPeer: Record<string, number>
}

export interface MeshSubmitOptions {
  parts?: number
  priority?: Priority
  /** Read the input bytes from this file instead of passing `input`. */
  inputFile?: string
  onProgress?: (record: JobRecord) => void
}

export class JobError extends MeshworkError {
  readonly code = 'job'
  constructor (readonly record: JobRecord) { super(`job ${record.jobId} ${record.state}${record.error !== undefined ? `: ${record.error}` : ''}`) }
}

export class Mesh {
  constructor (readonly client: MeshClient) {}

  /** Run a job module (a path) on the mesh; `input` is a JSON value, or bytes (Buffer/Uint8Array). */
  async submit (modulePath: string, input?: unknown, opts: MeshSubmitOptions = {}): Promise<JobResult> {
    const source: InputSource = opts.inputFile !== undefined
      ? { file: opts.inputFile }
      : input instanceof Uint8Array ? { bytes: input } : input === undefined ? undefined : { json: input }
    const { jobId } = await sendJob(this.client, await prepareJob(modulePath, source, { parts: opts.parts, priority: opts.priority }))
    const record = await followJob(this.client, jobId, opts.onProgress)
    if (record.state !== 'done') throw new JobError(record)
    return { jobId, coordinator: record.coordinator, result: record.result, tasks: record.tasks, wallMs: record.wallMs ?? 0, tasksByPeer: record.tasksByPeer }
  }

  async status (): Promise<StatusView> { return await this.client.get<StatusView>('/status') }
  async jobs (): Promise<JobRecord[]> { return (await this.client.get<{ jobs: JobRecord[] }>('/jobs')).jobs }
  async job (jobId: string): Promise<JobRecord> { return await this.client.get<JobRecord>(`/jobs/${encodeURIComponent(jobId)}`) }
  async cancel (jobId: string): Promise<void> { await this.client.post(`/jobs/${encodeURIComponent(jobId)}/cancel`, {}) }
}

export async function connect (opts: ClientOptions = {}): Promise<Mesh> {
  const mesh = new Mesh(MeshClient.fromOptions(opts))
  await mesh.status() // fail early, with the client's clear message, if no node answers
  return mesh
}
