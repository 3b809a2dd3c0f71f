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
    ...ownerSection(runs),
    ...(violations.length > 0 ? ['## Checker violations', '', ...violations, ''] : []),
    ...(chartLinks.length > 0 ? ['## Charts', '', ...chartLinks, ''] : []),
  ].join('\n')
  writeFileSync(join(dir, 'report.md'), md)
  writeFileSync(join(dir, 'results.json'), JSON.stringify(runs, null, 2) + '\n')
  written.unshift('report.md', 'results.json')
  return written
}

/** With owner policies: what the mesh took from owners against the work it finished. */
function ownerSection (runs: readonly RunMetrics[]): string[] {
  const withPolicy = runs.filter(r => r.policy !== '')
  if (withPolicy.length === 0) return []
  const rows = withPolicy.map(r => `| ${r.arch} | ${r.nodes} | ${r.policy} | ${r.ownerBusyS.toFixed(0)} | ${r.ownerStolenCpuS.toFixed(1)} | ${r.ownerBusyS > 0 ? (100 * r.ownerStolenCpuS / r.ownerBusyS).toFixed(1) : '—'} | ${r.jobsDone}/${r.jobs} | ${r.tasksDone} | ${r.makespanS.toFixed(1)} | ${(r.ownerStolenCpuS / Math.max(1, r.tasksDone) * 1000).toFixed(1)} |`)
  return [
    '## Owners\' time: stolen against work finished',
    '',
    'The same owner-policy core as the nodes (src/jobs/owner-policy.ts) runs on every simulated machine with an owner.',
    '"Owner time stolen" is the executor CPU time of mesh tasks that ran while the machine\'s owner was busy (a paused task',
    'takes none); "owner busy" is node-seconds during which owners were busy.',
    '',
    '| arch/policy | N | policy | owner busy (node-s) | owner time stolen (CPU-s) | stolen per busy second (%) | jobs done | tasks done | makespan (s) | stolen per 1000 tasks (CPU-s) |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ]
}
