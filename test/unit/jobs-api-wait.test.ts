// GET /jobs/:id?wait= on the real control-API server: a long poll answered when the job's record
// changes, at once for a finished job, and refused with a clear error for a bad wait.
import { afterEach, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { ApiServer } from '../../src/node/api/api-server.js'
import { JobRegistry } from '../../src/node/daemon/job-registry.js'
import type { JobSubmissions } from '../../src/node/daemon/job-submissions.js'
import { registerJobRoutes } from '../../src/node/api/jobs-api.js'
import { jobFollowPath } from '../../src/node/cli/submit.js'
import { waitFor } from '../helpers/wait.js'

const record = (state: JobRecord['state'], done: number): JobRecord => ({
  jobId: 'j1', kind: 'function', moduleName: 'm', state, coordinator: 'c', term: 1, submitter: 's', priority: 'normal',
  tasks: 4, done, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0,
} as JobRecord)

let api: ApiServer | undefined
afterEach(async () => { await api?.close(); api = undefined })

async function serve (registry: JobRegistry, query: () => Promise<JobRecord | undefined> = async () => undefined): Promise<string> {
  api = new ApiServer({ port: 0, bodyBytesMax: 1024 * 1024, log: { info () {}, warn () {}, error () {}, debug () {} } as never })
  registerJobRoutes(api, {
    selfId: 's', election: 'rendezvous' as never, members: () => [], registry, submissions: {} as JobSubmissions,
    query, cancel: () => {}, backups: 2, wallMs: () => Date.now(),
  })
  return await api.listen()
}

describe('GET /jobs/:id?wait=', () => {
  it('answers an unfinished job once its record changes', async () => {
    const registry = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    registry.upsert(record('running', 1), 0)
    const url = await serve(registry)
    let answered = false
    const pending = fetch(url + jobFollowPath('j1')).then(async res => { answered = true; return await res.json() as JobRecord })
    // The request is waiting in the registry, unanswered.
    await waitFor('the request to wait in the registry', () => registry.waitingCount > 0, 30_000, 10)
    expect(registry.waitingCount).toBe(1)
    expect(answered).toBe(false)
    registry.upsert(record('done', 4), 1)
    expect(await pending).toMatchObject({ state: 'done', done: 4 })
  })

  it('answers a finished job, and a request without wait, at once', async () => {
    const registry = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    registry.upsert(record('running', 2), 0)
    const url = await serve(registry)
    expect(await (await fetch(`${url}/jobs/j1`)).json()).toMatchObject({ state: 'running', done: 2 })
    registry.upsert(record('done', 4), 1)
    expect(await (await fetch(url + jobFollowPath('j1'))).json()).toMatchObject({ state: 'done' })
    expect(registry.waitingCount).toBe(0)
  })

  it('answers at once for a job found by asking the mesh (this node gets no updates of it)', async () => {
    const registry = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    const url = await serve(registry, async () => record('running', 3))
    let answered = false
    const pending = fetch(url + jobFollowPath('j1')).then(async res => { answered = true; return await res.json() as JobRecord })
    // A long poll would sit in the registry for 10 s: watch that nothing waits there meanwhile.
    let waitedMax = 0
    while (!answered) {
      waitedMax = Math.max(waitedMax, registry.waitingCount)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    expect(waitedMax).toBe(0)
    expect(await pending).toMatchObject({ state: 'running', done: 3 })
  })

  it('refuses a bad wait, naming it', async () => {
    const registry = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    registry.upsert(record('running', 2), 0)
    const url = await serve(registry)
    for (const bad of ['-1', '1.5', 'soon', '30001', '']) {
      const res = await fetch(`${url}/jobs/j1?wait=${bad}`)
      expect(res.status).toBe(400)
      expect(JSON.stringify(await res.json())).toMatch(/invalid wait/)
    }
  })
})
