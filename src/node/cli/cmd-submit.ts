import { resolve } from 'node:path'
import type { JobRecord, Priority } from '../../jobs/job-spec.js'
import { MeshClient, type ClientOptions } from './client.js'
import { shortId } from './format.js'
import { JobModuleError } from './job-module.js'
import { UsageError } from './options.js'
import { ProgressReporter } from './progress.js'
import { terminalSafe } from './terminal-text.js'
import { formatDuration } from './units.js'
import { followJob, prepareJob, sendJob, SubmitError, type InputSource } from './submit.js'
import { MeshworkError } from '../../util/errors.js'
import { EXIT } from './exit-codes.js'

export interface SubmitCommandOptions extends ClientOptions {
  input?: string
  inputJson?: string
  inputShared?: string
  parts?: number
  priority: Priority
  json?: boolean
  detach?: boolean
}

export class JobFailedError extends MeshworkError {
  readonly code = 'job-failed'
  readonly exitCode: number = EXIT.jobFailed
}

export async function submitCommand (modulePath: string, opts: SubmitCommandOptions): Promise<void> {
  if ([opts.input, opts.inputJson, opts.inputShared].filter(o => o !== undefined).length > 1) throw new UsageError('give one of --input FILE, --input-json JSON or --input-shared PATH')
  let input: InputSource
  if (opts.inputJson !== undefined) {
    try { input = { json: JSON.parse(opts.inputJson) } } catch (err) { throw new UsageError(`--input-json is not valid JSON: ${(err as Error).message}`) }
  } else if (opts.input !== undefined) {
    input = { file: opts.input }
  } else if (opts.inputShared !== undefined) {
    input = { shared: resolve(opts.inputShared) }
  }
  const client = MeshClient.fromOptions(opts)
  let prepared
  try {
    prepared = await prepareJob(modulePath, input, { parts: opts.parts, priority: opts.priority })
  } catch (err) {
    if (err instanceof JobModuleError || err instanceof SubmitError) throw new UsageError(err.message)
    throw err
  }
  const started = Date.now()
  const { jobId, coordinator } = await sendJob(client, prepared)
  if (opts.detach === true) {
    process.stdout.write(opts.json === true ? JSON.stringify({ jobId, coordinator }) + '\n' : `${terminalSafe(jobId)}\n`)
    return
  }
  // Ctrl-C cancels the job on the mesh, then exits.
  const onSigint = (): void => {
    process.stderr.write(`\ncancelling job ${terminalSafe(jobId)} …\n`)
    client.post(`/jobs/${jobId}/cancel`, {}).catch(() => {}).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSigint)
  const reporter = new ProgressReporter(process.stderr, started)
  if (opts.json !== true) process.stderr.write(`job ${terminalSafe(jobId)} → coordinator ${shortId(coordinator)}\n`)
  let record: JobRecord
  try {
    record = await followJob(client, jobId, r => reporter.update(r))
  } finally {
    reporter.end()
    process.off('SIGINT', onSigint)
  }
  printOutcome(record, opts.json === true)
}

/** The failed task's remote stack, as Dask and Ray show it at the caller: its frames, indented, after the error. */
function remoteStack (record: JobRecord): string {
  const f = record.failure
  if (f?.stack === undefined) return ''
  // The task's own frames: not the executor's that called it, nor Node's.
  const frames = f.stack.split('\n').filter(line => /^\s+at /.test(line) && !/executor-child\.js|node:internal/.test(line)).map(line => `    ${line.trim()}`)
  if (frames.length === 0) return ''
  return `\nRemote traceback (task ${f.taskIndex}${f.peerId !== undefined ? ` on ${shortId(f.peerId)}` : ''}):\n${frames.join('\n')}`
}

export function printOutcome (record: JobRecord, json: boolean): void {
  if (record.state !== 'done') {
    if (json) process.stdout.write(JSON.stringify({ jobId: record.jobId, coordinator: record.coordinator, state: record.state, error: record.error ?? record.state, ...(record.failure !== undefined ? { failure: record.failure } : {}) }) + '\n')
    // The error is the job's own text (a task's exception): escaped, its lines kept.
    throw new JobFailedError(terminalSafe(`job ${record.jobId} ${record.state}${record.error !== undefined ? `: ${record.error}` : ''}${remoteStack(record)}`, { keepNewlines: true }))
  }
  if (json) {
    process.stdout.write(JSON.stringify({
      jobId: record.jobId, coordinator: record.coordinator, result: record.result, tasks: record.tasks, wallMs: record.wallMs, tasksByPeer: record.tasksByPeer,
    }) + '\n')
    return
  }
  const peers = Object.entries(record.tasksByPeer).map(([p, n]) => `${shortId(p)}: ${n}`).join(', ')
  // JSON.stringify escapes C0 but not DEL, C1 or bidi controls; the escapes keep it valid JSON.
  process.stdout.write(`${terminalSafe(JSON.stringify(record.result, null, 2) ?? 'undefined', { keepNewlines: true })}\n`)
  process.stderr.write(`${record.tasks} tasks in ${formatDuration(record.wallMs ?? 0)} (${peers || 'no tasks'})\n`)
}
