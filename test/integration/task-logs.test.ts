import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import type { LogLine } from '../../src/jobs/task-logs.js'
import { TASK_LOG_LINES_MAX } from '../../src/jobs/task-logs.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// `meshwork logs` on a real 3-node mesh: the output of a job's split, maps (on every node) and
// reduce, bounded per task, a failing task's stderr, and --follow on a running job.

const fixture = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'chatty.mjs')
let mesh: LocalMesh | undefined
let work: string | undefined

const api = (i: number): string => mesh!.nodes[i]!.apiUrl
const peers = (): string[] => mesh!.nodes.map(n => n.peerId)
/** A node that is not the job's coordinator: it has to ask the coordinator for the lines. */
const other = (coordinator: string): number => peers().findIndex(p => p !== coordinator)

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-logs-test-'))
  mesh = await LocalMesh.start({ nodes: 3, baseDir: work, args: ['--slots', '2', '--task-timeout-ms', '20000'] })
  await waitForFullMesh(mesh, 3, 60_000)
}, 120_000)
afterAll(async () => {
  try { await mesh?.stop() } finally { if (work !== undefined) rmSync(work, { recursive: true, force: true }) }
}, 60_000)

const jsonLines = (stdout: string): LogLine[] => stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as LogLine)

describe('meshwork logs', () => {
  it('shows the split, every map task on every node, the reduce, and what a huge task dropped', async () => {
    const tasks = 18
    const out = await submitJson(api(0), [fixture, '--input-json', JSON.stringify({ tasks, ms: 400, huge: 5 })])
    expect(out.result).toBe(tasks * (tasks + 1) / 2)
    const asked = other(out.coordinator)
    const r = await runCli(['logs', out.jobId, '--api', api(asked), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const lines = jsonLines(r.stdout)
    expect(lines.map(l => l.seq)).toEqual(lines.map((_, i) => i + 1))
    expect(lines.find(l => l.task === 'split' && l.stream === 'stdout')?.text).toBe(`split into ${tasks} chunks`)
    expect(lines.find(l => l.task === 'split' && l.stream === 'stderr')?.text).toBe('split says: stderr from split')
    expect(lines.filter(l => l.task === 'split').every(l => l.node === out.coordinator)).toBe(true)
    const reduce = lines.filter(l => l.task === 'reduce')
    expect(reduce.map(l => [l.text, l.node])).toEqual([[`reduce over ${tasks} results`, out.coordinator]])
    for (let i = 0; i < tasks; i++) {
      const own = lines.filter(l => l.task === i && l.stream === 'stdout' && l.text.startsWith('map '))
      expect(own.length, `task ${i}`).toBeGreaterThanOrEqual(1)
      // The line names the node that ran it, as the task itself saw it.
      for (const l of own) expect(l.text).toBe(`map ${i} on ${l.node}`)
    }
    const mapNodes = new Set(lines.filter(l => typeof l.task === 'number').map(l => l.node))
    expect([...mapNodes].sort()).toEqual(Object.keys(out.tasksByPeer).filter(p => (out.tasksByPeer[p] ?? 0) > 0).sort())
    expect(mapNodes.size).toBe(3)
    // The huge task: bounded, and a marker says what was dropped.
    const huge = lines.filter(l => l.task === 5)
    expect(huge.filter(l => l.marker !== true).length).toBeLessThanOrEqual(TASK_LOG_LINES_MAX)
    const marker = huge.find(l => l.marker === true)
    expect(marker?.text).toMatch(/\d+ more lines \(\d+ characters\) of this task's output dropped/)
    expect(lines.some(l => l.text.includes('zzzz'))).toBe(false)
    expect(lines.find(l => l.task === 3 && l.stream === 'stderr')?.text).toBe('done 3')

    // Human output, from the coordinator itself.
    const human = await runCli(['logs', out.jobId, '--api', api(peers().indexOf(out.coordinator))])
    expect(human.code, human.stderr).toBe(0)
    const short = out.coordinator.slice(-8)
    expect(human.stdout).toContain(`[split on …${short}] split into ${tasks} chunks`)
    expect(human.stdout).toContain(`[split on …${short} stderr] split says: stderr from split`)
    expect(human.stdout).toContain(`[reduce on …${short}] reduce over ${tasks} results`)
    expect(human.stdout).toMatch(/\[task 7 on …\w{8}\] map 7 on /)
    expect(human.stdout).toMatch(/\[task 7 on …\w{8} stderr\] done 7/)
  }, 180_000)

  it("shows a failing task's stderr", async () => {
    const r = await runCli(['submit', fixture, '--input-json', JSON.stringify({ tasks: 4, ms: 50, fail: 2 }), '--api', api(1), '--detach', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const { jobId } = JSON.parse(r.stdout) as { jobId: string }
    await waitFor('the job to fail', async () => (await runCli(['result', jobId, '--api', api(1), '--json'])).code === 1, 60_000, 500)
    const logs = await runCli(['logs', jobId, '--api', api(1)])
    expect(logs.code, logs.stderr).toBe(0)
    expect(logs.stdout).toMatch(/\[task 2 on …\w{8} stderr\] task 2 is about to fail/)
  }, 120_000)

  it('--follow prints lines as a running job writes them and ends when it ends', async () => {
    const tasks = 8
    const r = await runCli(['submit', fixture, '--input-json', JSON.stringify({ tasks, ms: 1500 }), '--api', api(2), '--detach', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const { jobId } = JSON.parse(r.stdout) as { jobId: string }
    const followed = await runCli(['logs', jobId, '--follow', '--json', '--api', api(2)], 120_000)
    expect(followed.code, followed.stderr).toBe(0)
    const lines = jsonLines(followed.stdout)
    // It ended once the job did, with the job's last lines: the reduce's.
    const record = JSON.parse((await runCli(['result', jobId, '--api', api(2), '--json'])).stdout) as JobRecord & { result: unknown }
    expect(record.result).toBe(tasks * (tasks + 1) / 2)
    expect(lines.at(-1)?.task).toBe('reduce')
    for (let i = 0; i < tasks; i++) expect(lines.some(l => l.task === i && l.text.startsWith(`map ${i} on `))).toBe(true)
    // Every line once.
    expect(new Set(lines.map(l => l.seq)).size).toBe(lines.length)
  }, 180_000)

  it('says so for an unknown job', async () => {
    const r = await runCli(['logs', 'jnosuchjob0000', '--api', api(0)])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/^meshwork: no job jnosuchjob0000/)
  }, 60_000)
})
