import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunMetrics } from '../metrics/summary.js'
import { metricChart } from './charts.js'
import { metricsTable } from './markdown.js'
import { METRICS } from './metric-defs.js'
import { reading } from './reading.js'

// Writes report.md, results.json and one SVG + PNG chart per charted metric into `dir`.
// Only simulated figures go in (no wall time), so the same seed gives the same bytes.

export interface ReportContext {
  title: string
  command: string
  workload: string
  workloadDescription: string
  faults: string
  seed: number
  gossipNote: string
}

export async function writeReport (dir: string, runs: readonly RunMetrics[], ctx: ReportContext, charts = true): Promise<string[]> {
  mkdirSync(dir, { recursive: true })
  const written: string[] = []
  const chartLinks: string[] = []
  if (charts) {
    for (const m of METRICS.filter(m => m.chart)) {
      const chart = await metricChart(runs, m)
      const base = `chart-${m.key}`
      writeFileSync(join(dir, `${base}.svg`), chart.svg)
      writeFileSync(join(dir, `${base}.png`), chart.png)
      written.push(`${base}.svg`, `${base}.png`)
      chartLinks.push(`![${m.label}](${base}.png)`)
    }
  }
  const violations = runs.flatMap(r => r.violations.map(v => `- ${r.arch} N=${r.nodes}: ${v}`))
  const md = [
    `# ${ctx.title}`,
    '',
    `Command: \`${ctx.command}\``,
    '',
    `Workload **${ctx.workload}**: ${ctx.workloadDescription}. Faults: \`${ctx.faults}\`. Seed: ${ctx.seed}.`,
    '',
    '## Reading',
    '',
    reading(runs),
    '',
    '## Metrics',
    '',
    metricsTable(runs),
    '',
    'Rates are per simulated second over the whole run (warm-up included); "control-plane load" is the CPU a node spends handling',
    'vectors, task results and store rows (one core = 1.0); gossip relaying is counted separately and not charged to nodes.',
    '',
    `Gossip model: ${ctx.gossipNote}`,
    '',
    ...(violations.length > 0 ? ['## Checker violations', '', ...violations, ''] : []),
    ...(chartLinks.length > 0 ? ['## Charts', '', ...chartLinks, ''] : []),
  ].join('\n')
  writeFileSync(join(dir, 'report.md'), md)
  writeFileSync(join(dir, 'results.json'), JSON.stringify(runs, null, 2) + '\n')
  written.unshift('report.md', 'results.json')
  return written
}
