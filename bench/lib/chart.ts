import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import * as vl from 'vega-lite'
import type { BenchConfig } from './report.js'
import type { Metric, Results } from './results.js'

// The chart for BENCHMARKS.md: a Vega-Lite spec compiled to Vega and rendered headless to SVG
// (no canvas needed), then to PNG with resvg. Bars are medians, whiskers min–max.

const FAMILY_NAMES: Record<string, string> = {
  sequential: 'single process',
  piscina: 'piscina',
  moleculer: 'Moleculer',
  bullmq: 'BullMQ',
  meshwork: 'Meshwork',
}
const COLORS = { domain: ['single process', 'piscina', 'Moleculer', 'BullMQ', 'Meshwork'], range: ['#9e9e9e', '#7b9fcf', '#e6a04a', '#c0504d', '#2e8b57'] }

function shortLabel (id: string): string {
  const family = id.replace(/-\d+$/, '')
  const n = /-(\d+)$/.exec(id)?.[1]
  if (family === 'sequential') return 'single process'
  if (family === 'piscina') return `piscina (${n} task/thread)`
  return `${FAMILY_NAMES[family] ?? family} ×${n}`
}

interface Row { system: string, family: string, processes?: number, median: number, min: number, max: number }

function rows (results: Results, ids: string[], metric: Metric, f: (v: number) => number = v => v): Row[] {
  const out: Row[] = []
  for (const id of ids) {
    const values = results.get(id, metric)?.map(f).filter(Number.isFinite)
    if (values === undefined || values.length === 0) continue
    const sorted = [...values].sort((a, b) => a - b)
    const mid = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2] as number : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2
    const family = FAMILY_NAMES[id.replace(/-\d+$/, '')] ?? id
    const n = /-(\d+)$/.exec(id)?.[1]
    out.push({ system: shortLabel(id), family, processes: n !== undefined && !id.startsWith('piscina') ? Number(n) : undefined, median: mid, min: sorted[0] as number, max: sorted[sorted.length - 1] as number })
  }
  return out
}

function barPanel (title: string | { text: string, subtitle: string }, values: Row[], axisTitle: string, opts: { rule?: number, format?: string } = {}): object {
  const y = { field: 'system', type: 'nominal', sort: null, title: null, axis: { labelLimit: 220 } }
  const layers: object[] = [
    { mark: { type: 'bar' }, encoding: { y, x: { field: 'median', type: 'quantitative', title: axisTitle }, color: { field: 'family', type: 'nominal', scale: COLORS, legend: { title: null } } } },
    { mark: { type: 'rule', color: 'black' }, encoding: { y, x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } } },
    { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { y, x: { field: 'max', type: 'quantitative' }, text: { field: 'median', type: 'quantitative', format: opts.format ?? ',.3~r' } } },
  ]
  if (opts.rule !== undefined) layers.push({ data: { values: [{ target: opts.rule }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#2e8b57' }, encoding: { x: { field: 'target', type: 'quantitative' } } })
  return { title, width: 320, height: { step: 20 }, data: { values }, layer: layers }
}

function linePanel (title: string, values: Row[], axisTitle: string): object {
  return {
    title,
    width: 320,
    height: 160,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'processes', type: 'ordinal', title: 'processes', axis: { labelAngle: 0 } },
      y: { field: 'median', type: 'quantitative', title: axisTitle },
      color: { field: 'family', type: 'nominal', scale: COLORS, legend: { title: null } },
    },
  }
}

export function chartSpec (results: Results, config: BenchConfig): object {
  const n = config.headline
  const at = ['sequential', ...config.piscinaConcurrency.map(c => `piscina-${c}`), `moleculer-${n}`, `bullmq-${n}`, `meshwork-${n}`]
  const scaled = config.sizes.flatMap(s => [`moleculer-${s}`, `bullmq-${s}`, `meshwork-${s}`])
  const seq = results.med('sequential', 'primes.wallMs') ?? NaN
  const eff = (w: number): number => seq / (w * config.cores)
  const mbs = (w: number): number => config.corpusBytes / 1e6 / (w / 1000)
  const seqTps = results.med('sequential', 'empty.tps')
  const panels: object[] = [
    barPanel({ text: `${config.tasks.toLocaleString('en-US')} empty tasks, all at once`, subtitle: `single process (off the scale): ${seqTps === undefined ? '–' : Math.round(seqTps).toLocaleString('en-US')} tasks/s` }, rows(results, at.slice(1), 'empty.tps'), 'tasks/s', { format: ',.0f' }),
    barPanel('CPU-bound primes: parallel efficiency', rows(results, at, 'primes.wallMs', eff), `sequential ÷ (wall × ${config.cores} cores); target 0.9`, { rule: 0.9 }),
    barPanel(`Word count, ${(config.corpusBytes / 1e6).toFixed(0)} MB`, rows(results, at, 'words.wallMs', mbs), 'MB/s'),
  ]
  if (config.sizes.length > 1) {
    panels.push(
      linePanel('Empty tasks/s by process count', rows(results, scaled, 'empty.tps'), 'tasks/s'),
      linePanel('Primes efficiency by process count', rows(results, scaled, 'primes.wallMs', eff), 'parallel efficiency'),
    )
  }
  const grid: object[] = []
  for (let i = 0; i < panels.length; i += 2) grid.push({ hconcat: panels.slice(i, i + 2) })
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Meshwork vs baselines — ${config.cores} cores, one run${config.quick ? ' (quick smoke run)' : ''}`, fontSize: 14 },
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', view: { stroke: null } },
    background: 'white',
    padding: 12,
    vconcat: grid,
  }
}

export async function renderChart (results: Results, config: BenchConfig, dir: string): Promise<{ svg?: string, png?: string }> {
  const spec = vl.compile(chartSpec(results, config) as vl.TopLevelSpec).spec
  const view = new vega.View(vega.parse(spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const svgPath = join(dir, 'benchmarks.svg')
  writeFileSync(svgPath, svg)
  let pngPath: string | undefined
  try {
    const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 1.5 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng()
    pngPath = join(dir, 'benchmarks.png')
    writeFileSync(pngPath, png)
  } catch { /* the SVG is the chart; the PNG is a convenience */ }
  return { svg: svgPath, png: pngPath }
}
