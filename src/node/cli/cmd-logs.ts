import type { LogLine } from '../../jobs/task-logs.js'
import { LOG_PAGE_LINES_MAX } from '../../jobs/task-logs.js'
import { isFinal, type LogsAnswer } from '../daemon/logs-service.js'
import { MeshClient, RefusedError, type ClientOptions } from './client.js'
import { colour, shortId } from './format.js'
import { terminalSafe } from './terminal-text.js'

// `meshwork logs JOB_ID [--follow] [--json]`: what a job's tasks wrote to stdout and stderr, as
// its coordinator keeps it (GET /jobs/:id/logs). --json prints NDJSON: one line object per line.

/** How often --follow asks for new lines. */
const FOLLOW_POLL_MS = 500

export interface LogsCommandOptions extends ClientOptions { follow?: boolean, json?: boolean, pollMs?: number }

export async function logsCommand (jobId: string, opts: LogsCommandOptions): Promise<void> {
  const client = MeshClient.fromOptions(opts)
  const path = (after: number): string => `/jobs/${encodeURIComponent(jobId)}/logs?after=${after}`
  let after = 0
  let dropped = 0
  let warned = ''
  for (;;) {
    const page = await client.get<LogsAnswer>(path(after))
    if (page.dropped > dropped && after === 0 && page.lines.length > 0) {
      process.stderr.write(`meshwork: the ${page.dropped} oldest lines of job ${terminalSafe(jobId)} were dropped (a job keeps its newest lines)\n`)
    }
    dropped = page.dropped
    for (const line of page.lines) process.stdout.write(opts.json === true ? JSON.stringify(line) + '\n' : formatLine(line) + '\n')
    after = page.next
    // A full page: more lines are waiting.
    if (page.lines.length >= LOG_PAGE_LINES_MAX) continue
    if (!page.available) {
      if (opts.follow !== true || isFinal(page.state)) throw new RefusedError(`no output of job ${terminalSafe(jobId)} available: ${terminalSafe(page.reason ?? 'unknown reason')}`)
      if (warned !== page.reason) process.stderr.write(`meshwork: ${terminalSafe(page.reason ?? 'the output is not available')}; still trying\n`)
      warned = page.reason ?? ''
    }
    if (opts.follow !== true) return
    // Every line of a final job is in: its reduce's lines arrive before its outcome.
    if (isFinal(page.state) && page.lines.length === 0 && page.available) return
    if (page.lines.length === 0) await new Promise(resolve => setTimeout(resolve, opts.pollMs ?? FOLLOW_POLL_MS))
  }
}

/** `[task 3 on …abc12345] text`; `[task 3 #2 on …] ` for a later attempt; stderr lines marked. */
export function formatLine (line: LogLine): string {
  const what = typeof line.task === 'number' ? `task ${line.task}` : line.task
  const attempt = typeof line.task === 'number' && line.attempt > 1 ? ` #${line.attempt}` : ''
  const head = `[${what}${attempt} on ${shortId(line.node)}${line.stream === 'stderr' ? ' stderr' : ''}]`
  // Task output is the mesh's: escaped, never sent to the terminal raw.
  const text = terminalSafe(line.text)
  return line.stream === 'stderr' ? `${colour(31, head)} ${text}` : `${head} ${text}`
}
