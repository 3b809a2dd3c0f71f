import type { JobRecord } from '../../jobs/job-spec.js'
import { MeshClient, RefusedError, type ClientOptions } from './client.js'
import { colour, percent, shortId, table } from './format.js'
import { terminalSafe } from './terminal-text.js'
import { formatDuration } from './units.js'

const JOB_COLOUR: Record<string, number> = { done: 32, failed: 31, cancelled: 90, running: 36, splitting: 36, reducing: 36, pending: 36 }
import { printOutcome } from './cmd-submit.js'

export async function jobsCommand (opts: ClientOptions & { json?: boolean, all?: boolean }): Promise<void> {
  const { jobs } = await MeshClient.fromOptions(opts).get<{ jobs: JobRecord[] }>(opts.all === true ? '/jobs?all=1' : '/jobs')
  if (opts.json === true) {
    process.stdout.write(JSON.stringify({ jobs }) + '\n')
    return
  }
  const rows = jobs.map(j => [
    // Module names and states come from the mesh: escaped, never sent to the terminal raw.
    terminalSafe(j.jobId), colour(JOB_COLOUR[j.state] ?? 0, terminalSafe(j.state)), shortId(j.coordinator), String(j.term),
    `${j.done}/${j.tasks} ${percent(j.state === 'done' ? 1 : j.tasks > 0 ? j.done / j.tasks : 0)}`, terminalSafe(j.moduleName), j.wallMs !== undefined ? formatDuration(j.wallMs) : '',
    j.waiting !== undefined ? terminalSafe(j.waiting.detail) : '',
  ])
  const none = opts.all === true ? 'no jobs known to this node, nor in its history (submit one with `meshwork submit MODULE`)\n' : 'no jobs known to this node (submit one with `meshwork submit MODULE`; `--all` lists its history too)\n'
  process.stdout.write(rows.length === 0 ? none : table(['JOB', 'STATE', 'COORDINATOR', 'TERM', 'PROGRESS', 'MODULE', 'WALL', 'WAITING'], rows) + '\n')
}

export async function resultCommand (jobId: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const record = await MeshClient.fromOptions(opts).get<JobRecord>(`/jobs/${encodeURIComponent(jobId)}`)
  if (record.state === 'done' || record.state === 'failed' || record.state === 'cancelled') return printOutcome(record, opts.json === true)
  // A job still under way: where it stands and why it waits, then the error (non-zero exit), as for a failed job.
  if (opts.json === true) process.stdout.write(JSON.stringify({ jobId: record.jobId, coordinator: record.coordinator, state: record.state, done: record.done, tasks: record.tasks, ...(record.waiting !== undefined ? { waiting: record.waiting } : {}) }) + '\n')
  const waiting = record.waiting !== undefined ? `, waiting: ${terminalSafe(record.waiting.detail)}` : ''
  throw new RefusedError(`job ${terminalSafe(jobId)} is still ${terminalSafe(record.state)} (${record.done}/${record.tasks} tasks${waiting}): watch it with \`meshwork top\`, or run this again once it is done`)
}

export async function cancelCommand (jobId: string, opts: ClientOptions): Promise<void> {
  await MeshClient.fromOptions(opts).post(`/jobs/${encodeURIComponent(jobId)}/cancel`, {})
  process.stdout.write(`cancelling job ${terminalSafe(jobId)}\n`)
}
