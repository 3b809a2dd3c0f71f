import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FINAL_STATES, type JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { BIN_PATH, LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// Coordinator failover with real processes: 5 nodes on 127.0.0.1, each job replicated to 2
// backups. Every map and reduce execution is logged to a file, so re-executions are counted.

const N = 5
const TASKS = 50
const TASK_MS = 500
/** Under the scheduler's straggler threshold, max(backupMinMs 1000, 3 × the median task). */
const TAIL_MS = 1200
const EXPECTED = TASKS * (TASKS + 1)
const counted = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counted.mjs')
const countedCombine = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'counted-combine.mjs')
let mesh: LocalMesh
let work: string

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const indexOf = (peerId: string): number => mesh.nodes.findIndex(n => n.peerId === peerId)
const live = (): number[] => mesh.nodes.map((n, i) => n.proc !== undefined ? i : -1).filter(i => i >= 0)

/** The job as node i knows it (its control API, polled directly: a CLI process per poll is too slow). */
async function record (i: number, jobId: string): Promise<JobRecord | undefined> {
  try {
    const res = await mesh.fetch(i, `/jobs/${jobId}`)
    return res.ok ? await res.json() as JobRecord : undefined
  } catch {
    return undefined
  }
}

function executions (log: string, jobId: string): { maps: Map<number, number>, reduces: number } {
  const maps = new Map<number, number>()
  let reduces = 0
  if (!existsSync(log)) return { maps, reduces }
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [id, kind, index] = line.split(' ')
    if (id !== jobId) continue
    if (kind === 'reduce') reduces++
    else maps.set(Number(index), (maps.get(Number(index)) ?? 0) + 1)
  }
  return { maps, reduces }
}

/** Start a job on node `submitter` through a real `meshwork submit --json` that follows it. */
function submitFollowing (submitter: number, log: string, module = counted): { done: Promise<{ code: number, stdout: string, stderr: string }> } {
  // The last tenth of the tasks runs longer: tasks finish in waves, and at 90 % progress the job
  // must still be running when its coordinator is killed, however the last wave lines up. Not so
  // long that they count as stragglers (backup copies would be counted as re-executions).
  const input = JSON.stringify({ log, tasks: TASKS, ms: TASK_MS, tail: TASKS / 10, tailMs: TAIL_MS })
  const child = spawn(process.execPath, [BIN_PATH, 'submit', module, '--input-json', input, '--api', api(submitter), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += String(d) })
  child.stderr.on('data', d => { stderr += String(d) })
  return { done: new Promise(resolve => child.on('exit', code => resolve({ code: code ?? 1, stdout, stderr }))) }
}

/**
 * Start a job through a following `meshwork submit --json`, and find it and its coordinator the
 * way an operator would (`meshwork jobs --json`). A job whose coordinator is the submitter's own
 * node is cancelled and another submitted elsewhere: killing that coordinator would kill the
 * submitter's node too, which is tested separately.
 */
async function startFollowedJob (log: string, module = counted): Promise<{ following: ReturnType<typeof submitFollowing>, job: JobRecord }> {
  const seen = new Set<string>()
  for (const submitter of live()) {
    const listJobs = async (): Promise<JobRecord[]> => ((await (await mesh.fetch(submitter, '/jobs')).json()) as { jobs: JobRecord[] }).jobs
    for (const j of await listJobs()) seen.add(j.jobId) // earlier tests' jobs
    const following = submitFollowing(submitter, log, module)
    // Polled over HTTP: a CLI process per poll can be slower than the whole job on a busy machine.
    const job = await waitFor('the job to appear', async () => {
      return (await listJobs()).find(j => !seen.has(j.jobId) && j.submitter === mesh.nodes[submitter]!.peerId)
    })
    seen.add(job.jobId)
    if (FINAL_STATES.has(job.state)) throw new Error(`job ${job.jobId} was already ${job.state} when first seen`)
    // What an operator would run to find the coordinator.
    const listed = await runCli(['jobs', '--api', api(submitter), '--json'])
    expect((JSON.parse(listed.stdout) as { jobs: JobRecord[] }).jobs.find(j => j.jobId === job.jobId)?.coordinator).toBe(job.coordinator)
    if (job.coordinator !== mesh.nodes[submitter]!.peerId) return { following, job }
    await runCli(['cancel', job.jobId, '--api', api(submitter)])
    await following.done
  }
  throw new Error('every node elected itself as coordinator')
}

async function restoreMesh (): Promise<void> {
  for (const [i, n] of mesh.nodes.entries()) {
    if (n.proc === undefined) await mesh.startNode(i)
  }
  await waitForFullMesh(mesh, N, 60_000)
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-failover-'))
  // The counted fixture logs every execution to a file in the test's work dir.
  mesh = await LocalMesh.start({ nodes: N, args: ['--slots', '2', '--allow-fs-read', work, '--allow-fs-write', work] })
  await waitForFullMesh(mesh, N, 60_000)
})
afterAll(async () => {
  await mesh?.stop()
  rmSync(work, { recursive: true, force: true })
})

describe('kill -9 of the coordinator of a running job', () => {
  const cases: Array<[number, string]> = [[0.3, counted], [0.9, counted], [0.5, countedCombine]]
  for (const [fraction, module] of cases) {
    const what = module === countedCombine ? ' (a combining job: folded tasks survive in the replicas)' : ''
    it(`at ${fraction * 100}% progress: the job completes once, with the right result, re-running only unfinished tasks${what}`, async () => {
      await restoreMesh()
      const log = join(work, `kill-${fraction}.log`)
      const { following, job } = await startFollowedJob(log, module)
      const watcher = mesh.nodes.findIndex(n => n.peerId === job.submitter)
      const coordinator = indexOf(job.coordinator)
      const atKill = await waitFor(`${fraction * 100}% progress`, async () => {
        const r = await record(watcher, job.jobId)
        return r !== undefined && r.tasks > 0 && r.done >= fraction * r.tasks && r
      }, 120_000)
      await mesh.kill(coordinator, 'SIGKILL')
      const killedAt = Date.now()

      const out = await following.done
      expect(out.code, out.stderr).toBe(0)
      const result = JSON.parse(out.stdout) as { jobId: string, coordinator: string, result: number }
      expect(result.jobId).toBe(job.jobId)
      expect(result.result).toBe(EXPECTED)
      expect(result.coordinator).not.toBe(job.coordinator)
      const final = (await record(watcher, job.jobId))!
      expect(final.term).toBeGreaterThanOrEqual(2)

      const { maps, reduces } = executions(log, job.jobId)
      expect([...maps.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: TASKS }, (_, i) => i))
      const reRun = [...maps.values()].reduce((a, n) => a + n - 1, 0)
      const unfinishedAtKill = TASKS - atKill.done
      expect(reRun).toBeLessThanOrEqual(unfinishedAtKill)
      expect(reduces).toBe(1)
      process.stdout.write(`failover at ${fraction * 100}%: done at kill ${atKill.done}/${TASKS}, re-executed ${reRun}, finished ${Date.now() - killedAt} ms after the kill\n`)
    })
  }
})

describe('the submitter is not special', () => {
  it("kill -9 of the submitter's node: the job completes and any node returns its result", async () => {
    await restoreMesh()
    const log = join(work, 'submitter.log')
    let jobId = ''
    let submitter = -1
    for (const candidate of [0, 1, 2, 3, 4]) {
      const r = await runCli(['submit', counted, '--input-json', JSON.stringify({ log, tasks: TASKS, ms: TASK_MS }), '--api', api(candidate), '--detach', '--json'])
      expect(r.code, r.stderr).toBe(0)
      const started = JSON.parse(r.stdout) as { jobId: string, coordinator: string }
      if (started.coordinator !== mesh.nodes[candidate]!.peerId) {
        jobId = started.jobId
        submitter = candidate
        break
      }
      await runCli(['cancel', started.jobId, '--api', api(candidate)])
    }
    expect(submitter).toBeGreaterThanOrEqual(0)
    await waitFor('the job to be running', async () => (await record(submitter, jobId))?.state === 'running')
    await mesh.kill(submitter, 'SIGKILL')
    for (const i of live()) {
      const r = await waitFor(`node ${i} to return the result`, async () => {
        const res = await runCli(['result', jobId, '--api', api(i), '--json'])
        return res.code === 0 && res
      }, 60_000)
      expect((JSON.parse(r.stdout) as { result: number }).result).toBe(EXPECTED)
    }
    expect(executions(log, jobId).reduces).toBe(1)
  })
})

describe('a paused coordinator', () => {
  it('SIGSTOP → failover → SIGCONT: the stale coordinator yields and no second result appears', async () => {
    await restoreMesh()
    const log = join(work, 'pause.log')
    let jobId = ''
    let submitter = -1
    let coordinator = -1
    for (const candidate of [0, 1, 2, 3, 4]) {
      const r = await runCli(['submit', counted, '--input-json', JSON.stringify({ log, tasks: TASKS, ms: TASK_MS }), '--api', api(candidate), '--detach', '--json'])
      const started = JSON.parse(r.stdout) as { jobId: string, coordinator: string }
      if (started.coordinator !== mesh.nodes[candidate]!.peerId) {
        jobId = started.jobId
        submitter = candidate
        coordinator = indexOf(started.coordinator)
        break
      }
      await runCli(['cancel', started.jobId, '--api', api(candidate)])
    }
    expect(coordinator).toBeGreaterThanOrEqual(0)
    await waitFor('some progress', async () => ((await record(submitter, jobId))?.done ?? 0) >= 5)
    mesh.signal(coordinator, 'SIGSTOP')
    let resumed = false
    try {
      const final = await waitFor('the job to finish under a new coordinator', async () => {
        const r = await record(submitter, jobId)
        return r?.state === 'done' && r
      }, 90_000)
      expect(final.term).toBeGreaterThanOrEqual(2)
      expect(final.result).toBe(EXPECTED)
      mesh.signal(coordinator, 'SIGCONT')
      resumed = true
      // The stale coordinator hears of the higher term and keeps the committed record.
      const stale = await waitFor('the resumed coordinator to learn the outcome', async () => {
        const r = await record(coordinator, jobId)
        return r !== undefined && r.term >= final.term && r.state === 'done' && r
      }, 60_000)
      expect(stale.result).toBe(EXPECTED)
      for (const i of live()) {
        const r = await record(i, jobId)
        if (r !== undefined) expect({ state: r.state, term: r.term, result: r.result }).toEqual({ state: 'done', term: final.term, result: EXPECTED })
      }
      expect(executions(log, jobId).reduces).toBe(1)
    } finally {
      if (!resumed) mesh.signal(coordinator, 'SIGCONT')
    }
  })
})
