import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { RunMetrics } from '../metrics/summary.js'
import type { MetricDef } from './metric-defs.js'

// Charts of one metric against N, one line per architecture: a Vega-Lite spec compiled to
// Vega, rendered headless to SVG (no canvas needed), then to PNG with resvg.

export interface Chart { svg: string, png: Uint8Array }

export async function metricChart (runs: readonly RunMetrics[], metric: MetricDef): Promise<Chart> {
  const values = runs
    .filter(r => Number.isFinite(r[metric.key] as number))
    .map(r => ({ N: r.nodes, arch: r.arch, value: r[metric.key] as number }))
  const sizes = new Set(values.map(v => v.N))
  const positive = values.every(v => v.value > 0)
  const spread = Math.max(...values.map(v => v.value)) / Math.max(1e-12, Math.min(...values.map(v => v.value)))
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${metric.label} (${metric.unit})`,
    width: 520,
    height: 300,
    background: 'white',
    data: { values },
    mark: sizes.size > 1 ? { type: 'line', point: true } : { type: 'bar' },
    encoding: sizes.size > 1
      ? {
          x: { field: 'N', type: 'quantitative', title: 'nodes (N)', scale: { type: 'log' }, axis: { values: [...sizes] } },
          y: { field: 'value', type: 'quantitative', title: `${metric.label} (${metric.unit})`, scale: positive && spread > 50 ? { type: 'log' } : { zero: true } },
          color: { field: 'arch', type: 'nominal', title: 'architecture' },
        }
      : {
          x: { field: 'arch', type: 'nominal', title: `architecture (N=${[...sizes][0] ?? '?'})` },
          y: { field: 'value', type: 'quantitative', title: `${metric.label} (${metric.unit})` },
          color: { field: 'arch', type: 'nominal', legend: null },
        },
  }
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font: { loadSystemFonts: true } }).render().asPng()
  return { svg, png }
}
