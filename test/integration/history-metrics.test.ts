import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { runCli, submitJson } from '../helpers/cli.js'

// `meshwork jobs --all` (history that survives restarts) and `GET /metrics` on a real 2-node
// mesh: one job done, one failed, then the node they were submitted to restarts.

const root = join(import.meta.dirname, '..', '..')
const DEADLINE_MS = 120_000
let mesh: LocalMesh

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const jobsOf = async (i: number, all: boolean): Promise<JobRecord[]> => {
  const r = await runCli(['jobs', '--api', api(i), '--json', ...(all ? ['--all'] : [])], 60_000, { ...process.env, MESHWORK_TOKEN: mesh.token })
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { jobs: JobRecord[] }).jobs
}
const metricsOf = async (i: number): Promise<string> => {
  const res = await mesh.fetch(i, '/metrics')
  expect(res.status).toBe(200)
  return await res.text()
}
/** The value of one sample line, `name{labels} value` (0 when absent). */
const sample = (text: string, series: string): number => {
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

beforeAll(async () => {
  mesh = await LocalMesh.start({ nodes: 2, args: ['--slots', '2'] })
  await waitForFullMesh(mesh, 2, DEADLINE_MS)
}, DEADLINE_MS)
afterAll(async () => { await mesh?.stop() })

describe('job history and metrics', () => {
  let doneId = ''
  let failedId = ''

  it('jobs finish, and both nodes count them in /metrics', async () => {
    const done = await submitJson(api(0), [join(root, 'examples', 'primes.mjs'), '--input-json', JSON.stringify({ from: 0, to: 50_000 }), '--parts', '6'])
    doneId = done.jobId
    expect(done.result).toBe(5133)
    expect(done.tasks).toBe(6)
    // Every task ran once, on one node or the other (tasks this size get no backup copies).
    const okTasks = async (): Promise<number> => (await Promise.all([metricsOf(0), metricsOf(1)])).reduce((sum, t) => sum + sample(t, 'meshwork_worker_tasks_total{outcome="ok"}'), 0)
    expect(await okTasks()).toBe(done.tasks)
    const failed = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'faulty.mjs'), '--input-json', JSON.stringify({ chunks: [{ mode: 'throw' }] }), '--api', api(0), '--json'], 120_000, { ...process.env, MESHWORK_TOKEN: mesh.token })
    expect(failed.code).not.toBe(0)
    failedId = (await jobsOf(0, false)).find(j => j.state === 'failed')?.jobId ?? ''
    expect(failedId).not.toBe('')

    const texts = await Promise.all([metricsOf(0), metricsOf(1)])
    expect(sample(texts[0]!, 'meshwork_jobs_finished_total{state="done"}')).toBe(1)
    expect(sample(texts[0]!, 'meshwork_jobs_finished_total{state="failed"}')).toBe(1)
    expect(sample(texts[0]!, 'meshwork_peers{status="alive"}')).toBe(2)
    expect(sample(texts[0]!, 'meshwork_slots_total')).toBe(2)
    expect(sample(texts[0]!, 'meshwork_job_wall_seconds_count{state="done"}')).toBe(1)
    expect(sample(texts[0]!, 'meshwork_job_wall_seconds_sum{state="done"}')).toBeGreaterThan(0)
    // The thrown task's attempts (retried, then the job failed) counted by their kind.
    const total = (series: string): number => texts.reduce((sum, t) => sum + sample(t, series), 0)
    expect(total('meshwork_worker_tasks_total{outcome="threw"}')).toBeGreaterThanOrEqual(1)
    expect(total('meshwork_worker_tasks_total{outcome="ok"}')).toBe(6)
    expect(total('meshwork_executor_starts_total')).toBeGreaterThanOrEqual(2)
    expect(sample(texts[0]!, 'meshwork_gossip_vectors_received_total')).toBeGreaterThan(0)
    expect(texts[0]).toMatch(/^# HELP meshwork_worker_tasks_total Tasks this node ran/m)
    expect(texts[1]).toContain(`meshwork_node_info{peer_id="${mesh.nodes[1]!.peerId}"`)
    // The token is required, as everywhere on the control API.
    expect((await fetch(`${api(0)}/metrics`)).status).toBe(401)
  }, DEADLINE_MS)

  it('`jobs --all` lists the finished jobs from the history, also after the node restarts', async () => {
    const before = await jobsOf(0, true)
    expect(before.find(j => j.jobId === doneId)).toMatchObject({ state: 'done', tasks: 6 })
    expect(before.find(j => j.jobId === failedId)).toMatchObject({ state: 'failed' })
    expect(before.find(j => j.jobId === doneId)).not.toHaveProperty('result') // listings carry no results, as `jobs --json`

    await mesh.kill(0, 'SIGTERM')
    await mesh.startNode(0)
    await waitForFullMesh(mesh, 2, DEADLINE_MS)
    expect((await jobsOf(0, false)).map(j => j.jobId)).not.toContain(doneId)
    const after = await jobsOf(0, true)
    expect(after.map(j => [j.jobId, j.state])).toEqual(expect.arrayContaining([[doneId, 'done'], [failedId, 'failed']]))
    // Oldest first.
    expect(after.findIndex(j => j.jobId === doneId)).toBeLessThan(after.findIndex(j => j.jobId === failedId))
    const table = await runCli(['jobs', '--all', '--api', api(0)], 60_000, { ...process.env, MESHWORK_TOKEN: mesh.token })
    expect(table.stdout).toMatch(new RegExp(`^${doneId}\\s+done\\s`, 'm'))
    expect(sample(await metricsOf(0), 'meshwork_jobs_history')).toBe(2)
    // The result of a job finished before the restart still answers, from the history: with the
    // other node gone, no peer could have answered it.
    await mesh.kill(1, 'SIGKILL')
    const result = await runCli(['result', doneId, '--api', api(0), '--json'], 60_000, { ...process.env, MESHWORK_TOKEN: mesh.token })
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ jobId: doneId, result: 5133, tasks: 6 })
    // A wrong ?all= is the client's mistake, named.
    const bad = await mesh.fetch(0, '/jobs?all=yes')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/invalid all "yes"/)
  }, DEADLINE_MS)
})
