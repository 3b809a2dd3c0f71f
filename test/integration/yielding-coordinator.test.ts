import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// A coordinator whose node yields to its owner must not stall its jobs while other nodes are
// free (issue 24: 2 of 6 jobs submitted to a node outside its --hours window stayed
// `splitting` at 0/0 for ever). Node 0 is outside its --hours window and has most of the
// slots, so rendezvous hashing makes it coordinate most jobs; nodes 1 and 2 are dedicated.

const root = join(import.meta.dirname, '..', '..')
const primes = join(root, 'examples', 'primes.mjs')
const zoneB = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'zone-b.mjs')
let mesh: LocalMesh

/** A one-hour --hours window that starts 6 hours from now, local time: the node is outside it. */
function hoursNotNow (): string {
  const h = new Date().getHours()
  const pad = (n: number): string => String(n % 24).padStart(2, '0')
  return `${pad(h + 6)}:00-${pad(h + 7)}:00`
}

beforeAll(async () => {
  mesh = await LocalMesh.start({ nodes: 3, args: i => i === 0 ? ['--hours', hoursNotNow(), '--slots', '8', '--label', 'zone=b'] : ['--slots', '1'] })
  await waitForFullMesh(mesh, 3, 60_000)
}, 120_000)
afterAll(async () => { await mesh?.stop() })

async function jobs (api: string): Promise<JobRecord[]> {
  const r = await runCli(['jobs', '--api', api, '--json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { jobs: JobRecord[] }).jobs
}

describe('a yielding coordinator', () => {
  it('node 0 yields (outside --hours) and says so in its vector', async () => {
    await waitFor('node 0 not accepting, in node 1 view', async () => {
      const view = await mesh.status(1)
      return view.peers.find(p => p.peerId === mesh.nodes[0]!.peerId)?.accepting === false
    }, 30_000, 100)
  })

  it('jobs submitted to the yielding node all finish, on the free nodes', async () => {
    const api = mesh.nodes[0]!.apiUrl
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      const r = await runCli(['submit', primes, '--input-json', JSON.stringify({ from: 0, to: 20_000 + i }), '--parts', '4', '--api', api, '--detach'])
      expect(r.code, r.stderr).toBe(0)
      ids.push(r.stdout.trim())
    }
    const final = await waitFor('all 6 jobs done', async () => {
      const all = (await jobs(api)).filter(j => ids.includes(j.jobId))
      return all.length === 6 && all.every(j => j.state === 'done') ? all : false
    }, 90_000, 250)
    // The test means something only if the yielding node coordinated some of them.
    expect(final.filter(j => j.coordinator === mesh.nodes[0]!.peerId).length).toBeGreaterThan(0)
    for (const j of final) expect(j.tasksByPeer[mesh.nodes[0]!.peerId] ?? 0).toBe(0)
  }, 180_000)

  it('a job only the yielding node can run says why it waits', async () => {
    const api = mesh.nodes[1]!.apiUrl
    const r = await runCli(['submit', zoneB, '--input-json', '{"tasks":2}', '--api', api, '--detach'])
    expect(r.code, r.stderr).toBe(0)
    const jobId = r.stdout.trim()
    const waiting = await waitFor('the waiting reason', async () => (await jobs(api)).find(j => j.jobId === jobId)?.waiting, 60_000, 250)
    expect(waiting).toEqual({ reason: 'owners-busy', detail: '1/1 node offering zone=b yielding to their owners (outside --hours)' })
    const result = await runCli(['result', jobId, '--api', api, '--json'])
    expect(result.code).not.toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ jobId, state: 'running', waiting })
    const text = await runCli(['jobs', '--api', api])
    expect(text.stdout).toContain('WAITING')
    expect(text.stdout).toContain('yielding to their owners (outside --hours)')
    expect((await runCli(['cancel', jobId, '--api', api])).code).toBe(0)
  }, 120_000)
})
