import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'
import { spinValues } from '../helpers/spin.js'
import { waitFor } from '../helpers/wait.js'

// `meshwork drain` on a real 5-node mesh: a drained node — the coordinator of a running job,
// then a worker running its tasks — hands everything over, loses no task, and leaves.
// --drain-timeout-ms is short so running tasks are handed back rather than waited for.

const spin = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'spin.mjs')
let mesh: LocalMesh
const alive = new Set<number>()

beforeAll(async () => {
  mesh = await LocalMesh.start({ nodes: 5, args: ['--slots', '1', '--task-timeout-ms', '3600000', '--drain-timeout-ms', '3000'] })
  await waitForFullMesh(mesh, 5, 90_000)
  for (let i = 0; i < 5; i++) alive.add(i)
})
afterAll(async () => { await mesh?.stop() })

const indexOf = (peerId: string): number => mesh.nodes.findIndex(n => n.peerId === peerId)
async function job (i: number, jobId: string): Promise<JobRecord> {
  return await (await mesh.fetch(i, `/jobs/${jobId}`)).json() as JobRecord
}

async function drainAndCheck (target: number, observer: number): Promise<void> {
  const proc = mesh.nodes[target]!.proc!
  const exited = proc.exitCode !== null ? Promise.resolve(proc.exitCode) : new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)))
  const r = await runCli(['drain', '--api', mesh.nodes[target]!.apiUrl])
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toMatch(/drained and left/)
  expect(await exited).toBe(0)
  alive.delete(target)
  const peerId = mesh.nodes[target]!.peerId
  await waitFor('the drained node is left everywhere', async () => {
    for (const i of alive) if ((await mesh.status(i)).peers.find(p => p.peerId === peerId)?.status !== 'left') return false
    return true
  }, 60_000)
  expect(observer).not.toBe(target)
}

describe('drain', () => {
  it('draining the coordinator of a running job hands it to a backup; no task is lost and the node ends left', async () => {
    const input = { tasks: 16, iters: 2_000_000_000 }
    const s = await runCli(['submit', spin, '--input-json', JSON.stringify(input), '--api', mesh.nodes[0]!.apiUrl, '--detach', '--json'])
    expect(s.code, s.stderr).toBe(0)
    const { jobId, coordinator } = JSON.parse(s.stdout) as { jobId: string, coordinator: string }
    const c = indexOf(coordinator)
    const observer = [...alive].find(i => i !== c)!
    await waitFor('job under way', async () => { const j = await job(observer, jobId); return j.state === 'running' && j.done >= 1 }, 300_000, 200)
    await drainAndCheck(c, observer)
    const done = await waitFor('job done', async () => { const j = await job(observer, jobId); return j.state === 'done' || j.state === 'failed' ? j : undefined }, 600_000, 500)
    expect(done.state, done.error).toBe('done')
    expect(done.coordinator).not.toBe(coordinator)
    expect(done.term).toBeGreaterThan(0)
    const result = done.result as { values: number[], peers: string[] }
    expect(result.values).toEqual(spinValues(input.tasks, input.iters))
  })

  it('draining a worker with running tasks hands them back; the job completes and the node ends left', async () => {
    const input = { tasks: 12, iters: 2_000_000_000 }
    const submitter = [...alive][0]!
    const s = await runCli(['submit', spin, '--input-json', JSON.stringify(input), '--api', mesh.nodes[submitter]!.apiUrl, '--detach', '--json'])
    expect(s.code, s.stderr).toBe(0)
    const { jobId, coordinator } = JSON.parse(s.stdout) as { jobId: string, coordinator: string }
    // A worker that is neither the coordinator nor the submitter, busy with a task of the job.
    const target = [...alive].find(i => i !== submitter && mesh.nodes[i]!.peerId !== coordinator)!
    await waitFor('the worker busy', async () => {
      const view = await mesh.status(submitter)
      return view.peers.find(p => p.peerId === mesh.nodes[target]!.peerId)?.runningTasks ?? 0
    }, 300_000, 100)
    await drainAndCheck(target, submitter)
    const done = await waitFor('job done', async () => { const j = await job(submitter, jobId); return j.state === 'done' || j.state === 'failed' ? j : undefined }, 600_000, 500)
    expect(done.state, done.error).toBe('done')
    expect((done.result as { values: number[] }).values).toEqual(spinValues(input.tasks, input.iters))
  })
})
