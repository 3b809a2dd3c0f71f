import type { RunMetrics } from '../metrics/summary.js'
import { formatValue, METRICS } from './metric-defs.js'

// The markdown table: one row per (architecture, N), one column per metric.

export function metricsTable (runs: readonly RunMetrics[]): string {
  const head = ['arch', 'N', 'jobs done/total', ...METRICS.map(m => `${m.label} (${m.unit})`)]
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`]
  const sorted = [...runs].sort((a, b) => a.arch.localeCompare(b.arch) || a.nodes - b.nodes)
  for (const r of sorted) {
    const cells = [r.arch, String(r.nodes), `${r.jobsDone}/${r.jobs}`, ...METRICS.map(m => formatValue(r[m.key], m.digits))]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}
