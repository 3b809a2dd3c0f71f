import type { JobRecord } from '../jobs/job-spec.js'
import { MeshClient, type ClientOptions } from './client.js'
import { shortId, table } from './format.js'
import { printOutcome } from './cmd-submit.js'

export async function jobsCommand (opts: ClientOptions & { json?: boolean }): Promise<void> {
  const { jobs } = await MeshClient.fromOptions(opts).get<{ jobs: JobRecord[] }>('/jobs')
  if (opts.json === true) {
    process.stdout.write(JSON.stringify({ jobs }) + '\n')
    return
  }
  const rows = jobs.map(j => [j.jobId, j.state, shortId(j.coordinator), String(j.term), `${j.done}/${j.tasks}`, j.moduleName, j.wallMs !== undefined ? `${j.wallMs} ms` : ''])
  process.stdout.write(rows.length === 0 ? 'no jobs known to this node\n' : table(['JOB', 'STATE', 'COORDINATOR', 'TERM', 'PROGRESS', 'MODULE', 'WALL'], rows) + '\n')
}

export async function resultCommand (jobId: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const record = await MeshClient.fromOptions(opts).get<JobRecord>(`/jobs/${encodeURIComponent(jobId)}`)
  if (record.state === 'done' || record.state === 'failed' || record.state === 'cancelled') return printOutcome(record, opts.json === true)
  throw new Error(`job ${jobId} is still ${record.state} (${record.done}/${record.tasks} tasks)`)
}

export async function cancelCommand (jobId: string, opts: ClientOptions): Promise<void> {
  await MeshClient.fromOptions(opts).post(`/jobs/${encodeURIComponent(jobId)}/cancel`, {})
  process.stdout.write(`cancelling job ${jobId}\n`)
}
