import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FINAL_STATES, type JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// Poison pills and cancel with real node processes: a task that kills its executor, or (without
// a sandbox) its node, fails its job after doing so on 2 nodes instead of being placed on the
// next one; and a job whose coordinator and a majority of its replica set are dead (kill -9) is
// still cancelled from a surviving node, and does not run again when they come back.

const N = 5
const poison = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'poison.mjs')
const counted = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counted.mjs')
/** The poison rule's error (src/jobs/scheduler.ts noteCrash), with the two nodes' short ids captured. */
const POISON = /^Task (\d+) crashed its executor or node on 2 nodes \(…(\S{8}), …(\S{8})\): not placed again \(last: (.+)\)$/s

async function record (mesh: LocalMesh, i: number, jobId: string): Promise<JobRecord | undefined> {
  try {
    const res = await mesh.fetch(i, `/jobs/${jobId}`)
    return res.ok ? await res.json() as JobRecord : undefined
  } catch {
    return undefined
  }
}

const alive = (mesh: LocalMesh): number[] => mesh.nodes.map((n, i) => n.proc !== undefined && n.proc.exitCode === null && n.proc.signalCode === null ? i : -1).filter(i => i >= 0)

async function submit (mesh: LocalMesh, at: number, module: string, input: unknown): Promise<{ jobId: string, coordinator: string }> {
  const r = await runCli(['submit', module, '--input-json', JSON.stringify(input), '--api', mesh.nodes[at]!.apiUrl, '--detach', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as { jobId: string, coordinator: string }
}

/** The job's final record as node `at` knows it. */
async function finalRecord (mesh: LocalMesh, at: number, jobId: string, timeoutMs = 120_000): Promise<JobRecord> {
  return await waitFor(`job ${jobId} to end (node ${at})`, async () => {
    const r = await record(mesh, at, jobId)
    return r !== undefined && FINAL_STATES.has(r.state) && r
  }, timeoutMs, 100)
}

const short = (peerId: string): string => peerId.slice(-8)
const EXPECTED = (tasks: number): number => tasks * (tasks - 1)

describe('a map task that kills its own executor (sandboxed nodes)', () => {
  let mesh: LocalMesh | undefined
  let work = ''
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'meshwork-poison-'))
    mesh = await LocalMesh.start({ nodes: N, policy: 'dedicated', args: ['--policy', 'dedicated', '--slots', '2', '--allow-fs-read', work, '--allow-fs-write', work] })
    await waitForFullMesh(mesh, N, 60_000)
  }, 120_000)
  afterAll(async () => {
    await mesh?.stop()
    if (work !== '') rmSync(work, { recursive: true, force: true })
  })

  it('fails the job after crashing executors on 2 nodes, with the poison reason; every node stays up and the job runs without the pill', async () => {
    const m = mesh!
    const { jobId } = await submit(m, 0, poison, { tasks: 8, ms: 50, poison: 3, how: 'executor', poisonAfterMs: 500 })
    const final = await finalRecord(m, 0, jobId)
    expect(final.state, JSON.stringify(final)).toBe('failed')
    const match = POISON.exec(final.error ?? '')
    expect(match, final.error).not.toBeNull()
    const [, task, first, second, last] = match!
    expect(task).toBe('3')
    expect(first).not.toBe(second)
    const ids = m.nodes.map(n => short(n.peerId))
    expect(ids).toContain(first)
    expect(ids).toContain(second)
    expect(last).toMatch(/executor/)
    // Only executors died: all 5 daemons run, and each sees the 4 others alive.
    expect(alive(m)).toEqual([0, 1, 2, 3, 4])
    await waitForFullMesh(m, N, 30_000)
    // The job without its pill runs to the end on the same mesh.
    const again = await submit(m, 1, poison, { tasks: 8, ms: 50, poison: null, how: 'executor' })
    const done = await finalRecord(m, 1, again.jobId)
    expect({ state: done.state, result: done.result }).toEqual({ state: 'done', result: EXPECTED(8) })
  }, 240_000)

  it('a job whose coordinator and a majority of its replica set were killed is cancelled from a surviving node, and does not run again when they restart', async () => {
    const m = mesh!
    const log = join(work, 'cancel.log')
    const maps = (jobId: string): number => existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(l => l.startsWith(`${jobId} map `)).length : 0
    // A job whose coordinator is not the submitter's node (the submitter stays up to cancel it).
    let jobId = ''
    let submitter = -1
    let job: JobRecord | undefined
    // The coordinator is drawn per job (rendezvous hashing of its id): a few tries per node, or a
    // 1-in-27 chance that every node drew itself once each would fail the test.
    const nodes = alive(m)
    // Every node must see the others alive first: a node that sees only itself elects itself.
    await waitForFullMesh(m, nodes.length, 60_000)
    for (let attempt = 0; attempt < 4 * nodes.length; attempt++) {
      const candidate = nodes[attempt % nodes.length] as number
      const started = await submit(m, candidate, counted, { log, tasks: 60, ms: 500 })
      if (started.coordinator !== m.nodes[candidate]!.peerId) {
        jobId = started.jobId
        submitter = candidate
        break
      }
      await runCli(['cancel', started.jobId, '--api', m.nodes[candidate]!.apiUrl])
    }
    expect(submitter).toBeGreaterThanOrEqual(0)
    // Running, replicated to both backups, some tasks done.
    job = await waitFor('the job to run, replicated', async () => {
      const r = await record(m, submitter, jobId)
      return r !== undefined && r.state === 'running' && r.replicated === true && r.done >= 3 && (r.replicaSet?.length ?? 0) === 3 && r
    }, 120_000, 100)
    const set = job.replicaSet!
    const indexOf = (peerId: string): number => m.nodes.findIndex(n => n.peerId === peerId)
    // Kill the coordinator and a backup that is not the submitter's node: 2 of 3 members, no majority left.
    const coordinator = indexOf(job.coordinator)
    const backup = indexOf(set.find(p => p !== job!.coordinator && indexOf(p) !== submitter)!)
    const survivor = indexOf(set.find(p => indexOf(p) !== coordinator && indexOf(p) !== backup)!)
    await m.kill(coordinator, 'SIGKILL')
    await m.kill(backup, 'SIGKILL')
    // The others finish the tasks they were sent and get no new ones: nobody can take the job over.
    await waitFor('no tasks running on the surviving nodes', async () => {
      const views = await Promise.all(alive(m).map(async i => await m.status(i)))
      return views.every(v => v.peers.find(p => p.peerId === v.self)!.runningTasks === 0)
    }, 60_000, 100)
    const before = maps(jobId)
    expect(before).toBeLessThan(60)

    const cancelled = await runCli(['cancel', jobId, '--api', m.nodes[submitter]!.apiUrl])
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect((await record(m, submitter, jobId))?.state).toBe('cancelled')
    // The surviving member holds it cancelled too (a tombstone).
    await waitFor('the surviving member to hold the job cancelled', async () => (await record(m, survivor, jobId))?.state === 'cancelled', 30_000, 100)

    // The killed nodes come back with their data dirs (and new boots): without the tombstone, the
    // survivor would claim the job now and win their votes.
    await m.startNode(coordinator)
    await m.startNode(backup)
    await waitForFullMesh(m, N, 60_000)
    await waitFor('the restarted members to hold the job cancelled', async () =>
      (await record(m, coordinator, jobId))?.state === 'cancelled' && (await record(m, backup, jobId))?.state === 'cancelled', 60_000, 100)
    // A job run to the end on the whole mesh, after which a claim of the old one would long have run its tasks.
    const barrier = await submit(m, survivor, poison, { tasks: 20, ms: 200, poison: null, how: 'executor' })
    expect((await finalRecord(m, survivor, barrier.jobId)).state).toBe('done')
    expect(maps(jobId)).toBe(before)
    for (const i of alive(m)) {
      const r = await record(m, i, jobId)
      if (r !== undefined) expect({ node: i, state: r.state, term: r.term }).toEqual({ node: i, state: 'cancelled', term: job.term })
    }
    // And it stays cancelled: cancel again is refused as finished.
    expect((await runCli(['cancel', jobId, '--api', m.nodes[survivor]!.apiUrl])).code).not.toBe(0)
  }, 400_000)
})

describe('a map task that kills its node (--sandbox none)', () => {
  let mesh: LocalMesh | undefined
  /** Nodes whose daemon is dead (this test kills none itself), and how many deaths in all. */
  const died = new Set<number>()
  let deaths = 0
  const watch = (m: LocalMesh, i: number): void => { m.nodes[i]!.proc?.once('exit', () => { died.add(i); deaths++ }) }
  beforeAll(async () => {
    mesh = await LocalMesh.start({ nodes: N, policy: 'dedicated', args: ['--policy', 'dedicated', '--slots', '2', '--sandbox', 'none'] })
    await waitForFullMesh(mesh, N, 60_000)
    for (let i = 0; i < N; i++) watch(mesh, i)
  }, 120_000)
  afterAll(async () => {
    await mesh?.stop()
  })

  it('kills 2 nodes, not the third: the job fails with the poison reason', async () => {
    const m = mesh!
    // The pill kills any node but its coordinator's (there it throws): a coordinator's own death
    // starts a new term whose scheduler knows nothing of the nodes already killed (as of the
    // failure counts, which are not replicated either). See the report of the poison rule.
    const { jobId, coordinator } = await submit(m, 0, poison, { tasks: 8, ms: 50, poison: 3, how: 'daemon', poisonAfterMs: 1500, spareCoordinator: true })
    const c = m.nodes.findIndex(n => n.peerId === coordinator)
    await waitFor('2 nodes to die', () => died.size >= 2, 120_000, 100)
    expect(died.has(c)).toBe(false)
    const victims = [...died].map(i => short(m.nodes[i]!.peerId))
    // The failure is committed by a majority of the replica set: if the pill killed both backups,
    // it commits once they are back (their restarts know nothing of the job and vote yes).
    const set = (await record(m, c, jobId))?.replicaSet ?? []
    const deadMembers = set.map(p => m.nodes.findIndex(n => n.peerId === p)).filter(i => died.has(i))
    if (deadMembers.length >= 2) {
      for (const i of deadMembers) {
        await m.startNode(i)
        died.delete(i)
        watch(m, i)
      }
    }
    const final = await finalRecord(m, c, jobId)
    expect(final.state, JSON.stringify(final)).toBe('failed')
    const match = POISON.exec(final.error ?? '')
    expect(match, final.error).not.toBeNull()
    const [, task, first, second] = match!
    expect(task).toBe('3')
    expect(new Set([first, second])).toEqual(new Set(victims))
    // Nothing else dies: the nodes killed come back, and the whole mesh runs the job without its pill.
    for (let i = 0; i < N; i++) {
      if (!alive(m).includes(i)) {
        await m.startNode(i)
        died.delete(i)
        watch(m, i)
      }
    }
    await waitForFullMesh(m, N, 60_000)
    const again = await submit(m, c, poison, { tasks: 8, ms: 50, poison: null, how: 'daemon' })
    const done = await finalRecord(m, c, again.jobId)
    expect({ state: done.state, result: done.result }).toEqual({ state: 'done', result: EXPECTED(8) })
    expect(deaths).toBe(2)
  }, 400_000)
})
