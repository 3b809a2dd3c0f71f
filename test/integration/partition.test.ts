import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { netnsLauncher } from '../../chaos/netns-launcher.js'
import { createNetwork, removeStaleNetworks, uniquePrefix, type Network } from '../../chaos/netns.js'
import { FINAL_STATES, type JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import type { StatusView } from '../../src/node/cli/status-view.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// A real partition: five nodes, one per network namespace on a private bridge, and the links
// between two groups cut (unicast dropped both ways). The coordinator of a running job is put
// on the minority side with a node outside the job's replica set, so the majority holds both
// backups. Each side must keep working on what it can; after the heal the mesh converges and
// the job has exactly one result, reduced once. Needs root and iproute2 (CI runs as root).

const N = 5
const counted = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counted.mjs')
let network: Network | undefined
let launcher: ReturnType<typeof netnsLauncher> | undefined
let mesh: LocalMesh | undefined
let work: string

const api = (i: number): string => mesh!.nodes[i]!.apiUrl
const indexOf = (peerId: string): number => mesh!.nodes.findIndex(n => n.peerId === peerId)

async function record (i: number, jobId: string): Promise<JobRecord | undefined> {
  try {
    const res = await mesh!.fetch(i, `/jobs/${jobId}`)
    return res.ok ? await res.json() as JobRecord : undefined
  } catch {
    return undefined
  }
}

async function aliveSeenBy (i: number): Promise<Set<string>> {
  const view = await (await mesh!.fetch(i, '/status')).json() as StatusView
  return new Set(view.peers.filter(p => p.status === 'alive').map(p => p.peerId))
}

function reduces (log: string, jobId: string): number {
  if (!existsSync(log)) return 0
  return readFileSync(log, 'utf8').split('\n').filter(l => l === `${jobId} reduce`).length
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-partition-'))
  await removeStaleNetworks()
  network = await createNetwork(uniquePrefix(), N)
  launcher = netnsLauncher(network)
  mesh = await LocalMesh.start({ nodes: N, args: ['--slots', '2', '--allow-fs-read', work, '--allow-fs-write', work], launcher })
  await waitForFullMesh(mesh, N, 90_000)
})

afterAll(async () => {
  await mesh?.stop()
  await launcher?.close()
  await network?.destroy()
  rmSync(work, { recursive: true, force: true })
})

describe('a partition between two groups of nodes', () => {
  it('each side keeps working; after the heal the mesh converges and the job has one result', async () => {
    const log = join(work, 'counted.log')
    const TASKS = 40
    const started = await submitJson(api(0), [counted, '--input-json', JSON.stringify({ log, tasks: TASKS, ms: 400 }), '--detach'])
    const job = await waitFor('the job to run with its replica set known', async () => {
      const r = await record(0, started.jobId)
      return r !== undefined && r.state === 'running' && r.done >= 4 && (r.replicaSet?.length ?? 0) === 3 && r
    })
    const coordinator = indexOf(job.coordinator)
    const outsider = mesh!.nodes.findIndex(n => !job.replicaSet!.includes(n.peerId))
    const minority = [coordinator, outsider]
    const majority = mesh!.nodes.map((_, i) => i).filter(i => !minority.includes(i))
    expect(outsider).toBeGreaterThanOrEqual(0)

    await launcher!.partition([minority, majority])
    const idsOf = (group: number[]): string[] => group.map(i => mesh!.nodes[i]!.peerId)
    for (const [side, other] of [[minority, majority], [majority, minority]] as const) {
      for (const i of side) {
        await waitFor(`node ${i} to stop seeing the other side alive`, async () => {
          const alive = await aliveSeenBy(i)
          return idsOf(other).every(p => !alive.has(p)) && idsOf(side).every(p => alive.has(p))
        })
      }
    }

    // The majority holds both backups: one takes the job over and finishes it.
    const finished = await waitFor('the majority to finish the job under a higher term', async () => {
      const r = await record(majority[0]!, job.jobId)
      return r !== undefined && FINAL_STATES.has(r.state) && r
    }, 120_000)
    expect(finished.state).toBe('done')
    expect(finished.term).toBeGreaterThanOrEqual(2)
    expect(finished.result).toBe(TASKS * (TASKS + 1))
    expect(majority).toContain(indexOf(finished.coordinator))
    // The old coordinator cannot reach a majority of the replica set: it has not published a result.
    const stale = await record(coordinator, job.jobId)
    expect(stale === undefined || !FINAL_STATES.has(stale.state)).toBe(true)

    // Each side runs new jobs on its own nodes meanwhile.
    for (const side of [majority, minority]) {
      const sideLog = join(work, `side-${side.join('-')}.log`)
      const out = await submitJson(api(side[0]!), [counted, '--input-json', JSON.stringify({ log: sideLog, tasks: 6, ms: 50 })])
      expect(out.result).toBe(6 * 7)
      expect(Object.keys(out.tasksByPeer).every(p => idsOf(side).includes(p))).toBe(true)
    }

    await network!.heal()
    await waitForFullMesh(mesh!, N, 120_000)
    // After the heal every node that knows the job knows the same single result.
    for (let i = 0; i < N; i++) {
      const r = await waitFor(`node ${i} to know the job's one result`, async () => {
        const rec = await record(i, job.jobId)
        return rec !== undefined && FINAL_STATES.has(rec.state) && rec
      }, 120_000)
      expect([r.state, r.term, r.result]).toEqual([finished.state, finished.term, finished.result])
    }
    expect(reduces(log, job.jobId)).toBe(1)
    const listed = await runCli(['jobs', '--api', api(coordinator), '--json'])
    expect(listed.code, listed.stderr).toBe(0)
  })
})
