import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/package-root.js'

// `npm run bench -- --quick` as a smoke test of the harness: it must produce figures for every
// baseline and stop every process it started (Redis, Moleculer nodes, BullMQ workers, mesh
// nodes and their executors). It asserts nothing about the figures themselves.

const root = packageRoot()
const RUN_MARKER_ENV = 'MWBENCH_RUN_ID'
const out = mkdtempSync(join(tmpdir(), 'mwbench-smoke-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

/** Processes whose environment carries this run's marker (inherited by everything the benchmark starts). */
function processesOfRun (runId: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${RUN_MARKER_ENV}=${runId}`)) {
        found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').slice(0, 160)}`)
      }
    } catch { /* gone, or not ours to read */ }
  }
  return found
}

interface Saved { results: Record<string, Record<string, number[] | undefined> | undefined>, errors: Record<string, string> }

describe('bench --quick', () => {
  it('--help prints the options and starts nothing', () => {
    const r = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'bench', 'run.js'), '--help'], { encoding: 'utf8', timeout: 60_000 })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/--quick/)
    expect(r.stdout).not.toMatch(/corpus: .* generated/)
  })

  it('produces figures for every baseline and leaves no process behind', async () => {
    const runId = `smoke${randomBytes(4).toString('hex')}`
    const child = spawn(process.execPath, [join(root, 'dist', 'bench', 'run.js'), '--quick', '--out', out], {
      cwd: root,
      env: { ...process.env, [RUN_MARKER_ENV]: runId },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let log = ''
    child.stdout.on('data', (d: Buffer) => { log += d.toString() })
    child.stderr.on('data', (d: Buffer) => { log += d.toString() })
    const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
    expect(code, log).toBe(0)

    const saved = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8')) as Saved
    expect(saved.errors, log).toEqual({})
    const figure = (id: string, metric: string): number => saved.results[id]?.[metric]?.[0] ?? NaN
    const baselines = ['piscina-1', 'piscina-8', 'moleculer-3', 'bullmq-3']
    for (const id of ['sequential', ...baselines, 'meshwork-3']) {
      for (const metric of ['empty.tps', 'primes.wallMs', 'words.wallMs']) {
        expect(figure(id, metric), `${id} ${metric}\n${log}`).toBeGreaterThan(0)
      }
    }
    for (const id of baselines) expect(figure(id, 'empty.win.p50'), `${id} latency`).toBeGreaterThan(0)
    expect(figure('meshwork-3', 'empty.p50'), 'meshwork latency').toBeGreaterThan(0)

    const report = readFileSync(join(out, 'BENCHMARKS.md'), 'utf8')
    expect(report).toContain('## Targets')
    if (process.platform === 'linux') expect(report).toMatch(/\| cores busy just before the run \(2 s, \/proc\/stat\) \| \d+ % \|/)
    expect(existsSync(join(out, 'benchmarks.svg'))).toBe(true)

    // Everything the run started is gone (allow stragglers a moment to finish exiting).
    const deadline = Date.now() + 10_000
    let left = processesOfRun(runId)
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 200))
      left = processesOfRun(runId)
    }
    expect(left).toEqual([])
  }, 420_000)
})
