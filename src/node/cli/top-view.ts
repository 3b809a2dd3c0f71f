import { FINAL_STATES, type JobRecord } from '../../jobs/job-spec.js'
import { shortId } from './format.js'
import { isStale, NO_FIGURE, type StatusView } from './status-view.js'
import { terminalSafe } from './terminal-text.js'

// The screen of `meshwork top`, as lines: a header, one row per node, one row per job.
// Pure (no I/O, no clock): cmd-top.ts fetches the snapshot and draws the lines in place.

export interface TopSnapshot {
  apiUrl: string
  /** The last good views (kept while the node is unreachable, marked stale). */
  status?: StatusView
  jobs?: JobRecord[]
  /** Why the last refresh failed, if it did. */
  error?: string
  nowMs: number
}

export interface TopLayout { columns: number, rows: number, colour: boolean, interactive: boolean }

const STATUS_COLOUR: Record<string, number> = { alive: 32, suspect: 33, dead: 31, left: 90 }
const JOB_COLOUR: Record<string, number> = { done: 32, failed: 31, cancelled: 90, running: 36, splitting: 36, reducing: 36, pending: 36 }

export function renderTop (snap: TopSnapshot, layout: TopLayout): string[] {
  const paint = (code: number | undefined, text: string): string => layout.colour && code !== undefined ? `\x1b[${code}m${text}\x1b[0m` : text
  const bold = (text: string): string => paint(1, text)
  const lines: string[] = []
  const view = snap.status
  const jobs = sortJobs(snap.jobs ?? [])
  const alive = view?.peers.filter(p => p.status === 'alive').length ?? 0
  const running = jobs.filter(j => !FINAL_STATES.has(j.state)).length
  const clock = new Date(snap.nowMs).toISOString().slice(11, 19)
  const apiUrl = terminalSafe(snap.apiUrl)
  const head = view === undefined
    ? `meshwork top — ${apiUrl}`
    : `meshwork top — node ${shortId(view.self)} at ${apiUrl} · ${alive}/${view.peers.length} alive · ${running} job${running === 1 ? '' : 's'} running · ${clock} UTC`
  lines.push(bold(head) + (layout.interactive ? paint(90, '   q: quit') : ''))
  if (snap.error !== undefined) lines.push(paint(31, `! ${terminalSafe(snap.error)}${layout.interactive ? ' — retrying' : ''}${view !== undefined ? ' (showing the last data)' : ''}`))
  lines.push('')

  if (view !== undefined) {
    const coordinating = new Map<string, number>()
    for (const j of jobs) if (!FINAL_STATES.has(j.state)) coordinating.set(j.coordinator, (coordinating.get(j.coordinator) ?? 0) + 1)
    const nodeRows = view.peers.map(p => {
      const gone = p.status === 'dead' || p.status === 'left'
      // A dead or silent node's last figures are not its current ones: "—", not numbers.
      const stale = isStale(p)
      const busy = Math.max(0, p.slotsTotal - p.slotsFree)
      const memUsed = p.memTotal > 0 ? 1 - p.memFree / p.memTotal : 0
      return [
        shortId(p.peerId) + (p.peerId === view.self ? ' *' : ''),
        terminalSafe(p.name ?? '-'),
        paint(STATUS_COLOUR[p.status], terminalSafe(p.status)) + (p.accepting || gone ? '' : paint(33, ' yielding')),
        stale ? NO_FIGURE : `${bar(p.cpuLoad, 10, layout.colour ? 34 : undefined, paint)} ${pct(p.cpuLoad).padStart(4)}`,
        stale ? NO_FIGURE : pct(memUsed),
        stale ? NO_FIGURE : `${busy}/${p.slotsTotal}`,
        stale ? NO_FIGURE : String(p.runningTasks),
        String(coordinating.get(p.peerId) ?? 0),
      ]
    })
    const nodesMax = Math.max(1, Math.floor((layout.rows - 6) / 2))
    lines.push(...table(['NODE', 'NAME', 'STATUS', 'CPU', 'MEM', 'SLOTS', 'TASKS', 'COORDINATES'], nodeRows.slice(0, nodesMax), bold))
    if (nodeRows.length > nodesMax) lines.push(paint(90, `… ${nodeRows.length - nodesMax} more nodes`))
    lines.push('')
  }

  if (jobs.length === 0) {
    lines.push(paint(90, snap.jobs === undefined ? '' : 'no jobs known to this node yet — submit one with `meshwork submit MODULE`'))
  } else {
    const jobRows = jobs.map(j => {
      const fraction = j.state === 'done' ? 1 : j.tasks > 0 ? j.done / j.tasks : 0
      const elapsed = j.wallMs ?? Math.max(0, snap.nowMs - j.submittedAtMs)
      // Job ids, states and module names come from the mesh: escaped before they reach the terminal.
      return [
        terminalSafe(j.jobId),
        paint(JOB_COLOUR[j.state], terminalSafe(j.state)),
        `${bar(fraction, 20, layout.colour ? JOB_COLOUR[j.state] : undefined, paint)} ${pct(fraction).padStart(4)}`,
        `${j.done}/${j.tasks}`,
        shortId(j.coordinator) + (j.term > 1 ? ` t${j.term}` : ''),
        String(j.failures),
        `${(elapsed / 1000).toFixed(1)}s`,
        terminalSafe(j.moduleName),
        j.waiting !== undefined ? paint(33, terminalSafe(j.waiting.detail)) : '',
      ]
    })
    const jobsMax = Math.max(1, layout.rows - lines.length - 2)
    lines.push(...table(['JOB', 'STATE', 'PROGRESS', 'TASKS', 'COORDINATOR', 'FAIL', 'TIME', 'MODULE', 'WAITING'], jobRows.slice(0, jobsMax), bold))
    if (jobRows.length > jobsMax) lines.push(paint(90, `… ${jobRows.length - jobsMax} more jobs`))
  }
  return lines.slice(0, layout.rows).map(l => clip(l, layout.columns))
}

/** Unfinished jobs first (newest first), then finished ones (most recently finished first). */
function sortJobs (jobs: JobRecord[]): JobRecord[] {
  return [...jobs].sort((a, b) => {
    const fa = FINAL_STATES.has(a.state) ? 1 : 0
    const fb = FINAL_STATES.has(b.state) ? 1 : 0
    if (fa !== fb) return fa - fb
    return (fb === 1 ? (b.finishedAtMs ?? b.submittedAtMs) - (a.finishedAtMs ?? a.submittedAtMs) : b.submittedAtMs - a.submittedAtMs)
  })
}

function pct (fraction: number): string { return `${Math.round((Number.isFinite(fraction) ? fraction : 0) * 100)}%` }

function bar (fraction: number, width: number, code: number | undefined, paint: (code: number | undefined, text: string) => string): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0))
  const filled = Math.round(f * width)
  return paint(code, '█'.repeat(filled)) + '░'.repeat(width - filled)
}

const ANSI = /\x1b\[[0-9;]*m/g
const visible = (s: string): number => s.replace(ANSI, '').length

function table (header: string[], rows: string[][], bold: (s: string) => string): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => visible(r[i] ?? ''))))
  const line = (cells: string[]): string => cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c)))).join('  ').trimEnd()
  return [bold(line(header)), ...rows.map(line)]
}

/** Cut a line to `columns` visible characters, keeping colour codes intact. */
export function clip (line: string, columns: number): string {
  if (visible(line) <= columns) return line
  let out = ''
  let shown = 0
  for (let i = 0; i < line.length && shown < columns;) {
    ANSI.lastIndex = i
    const m = ANSI.exec(line)
    if (m !== null && m.index === i) { out += m[0]; i += m[0].length; continue }
    out += line[i]
    shown++
    i++
  }
  return out.includes('\x1b[') ? `${out}\x1b[0m` : out
}
