import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { simCommand } from '../../sim/command.js'
import { metricChart } from '../../sim/report/charts.js'
import { METRICS } from '../../sim/report/metric-defs.js'

const dirs: string[] = []
const quiet = { log: () => {} }
function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'sim-det-'))
  dirs.push(d)
  return d
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

const base = { arch: 'all', nodes: 12, workload: 'multi', tasks: 400, faults: 'crash-node@6s:2,partition@4s-9s:0.25,loss:0.01', charts: false }

describe('determinism', () => {
  it('the same seed gives a byte-identical report, another seed a different one', async () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()]
    await simCommand({ ...base, seed: 3, out: a }, quiet)
    await simCommand({ ...base, seed: 3, out: b }, quiet)
    await simCommand({ ...base, seed: 4, out: c }, quiet)
    const read = (d: string, f: string): string => readFileSync(join(d, f), 'utf8')
    expect(read(a, 'report.md')).toBe(read(b, 'report.md'))
    expect(read(a, 'results.json')).toBe(read(b, 'results.json'))
    expect(read(a, 'report.md')).not.toBe(read(c, 'report.md'))
    expect(read(a, 'report.md')).toContain('| p2p | 12 |')
  })

  it('charts render the same SVG twice, and a PNG', async () => {
    const outcome = await simCommand({ ...base, arch: 'p2p,master-slave', sweep: '6,12', seed: 3, out: tempDir() }, quiet)
    const metric = METRICS.find(m => m.key === 'makespanS')!
    const one = await metricChart(outcome.runs, metric)
    const two = await metricChart(outcome.runs, metric)
    expect(one.svg).toBe(two.svg)
    expect(one.svg).toContain('<svg')
    expect(Buffer.from(one.png.subarray(1, 4)).toString('latin1')).toBe('PNG')
  })
})
