import type { JobRecord } from '../../jobs/job-spec.js'
import { shortId } from './format.js'
import { terminalSafe } from './terminal-text.js'

// A live progress line for `submit` on a terminal; plain occasional lines elsewhere.

export function progressLine (record: JobRecord, elapsedMs: number, width = 30): string {
  const total = record.tasks
  const fraction = total > 0 ? record.done / total : 0
  const filled = Math.round(fraction * width)
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
  const etaMs = fraction > 0 && fraction < 1 ? elapsedMs * (1 - fraction) / fraction : 0
  const perPeer = Object.entries(record.tasksByPeer).map(([p, n]) => `${shortId(p)}:${n}`).join(' ')
  const state = record.state === 'running' ? '' : ` ${terminalSafe(record.state)}`
  // Why it waits comes from the mesh: escaped like the state.
  const waiting = record.waiting !== undefined ? `  waiting: ${terminalSafe(record.waiting.detail)}` : ''
  return `${bar} ${record.done}/${total} tasks  ${(elapsedMs / 1000).toFixed(1)}s${etaMs > 0 ? `  ETA ${(etaMs / 1000).toFixed(1)}s` : ''}${state}${perPeer !== '' ? `  [${perPeer}]` : ''}${waiting}`
}

export class ProgressReporter {
  private lastPlainMs = 0
  private drawn = false
  constructor (private readonly stream: NodeJS.WriteStream, private readonly startedMs: number) {}

  update (record: JobRecord): void {
    const elapsed = Date.now() - this.startedMs
    const line = progressLine(record, elapsed)
    if (this.stream.isTTY === true) {
      const columns = this.stream.columns ?? 120
      this.stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`)
      this.drawn = true
    } else if (elapsed - this.lastPlainMs >= 2000) {
      this.lastPlainMs = elapsed
      this.stream.write(`${line}\n`)
    }
  }

  end (): void {
    if (this.drawn) this.stream.write('\n')
  }
}
