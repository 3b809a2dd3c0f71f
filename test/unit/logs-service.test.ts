import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { JobLogs } from '../../src/jobs/task-logs.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { LogsService, LogsUnknownJobError } from '../../src/node/daemon/logs-service.js'

// Where a job's task output comes from: this node's own copy when it coordinates the job, else
// its coordinator over RPC (as the timeline does).

const record = (jobId: string, coordinator: string, state: JobRecord['state'] = 'running'): JobRecord => ({
  jobId, kind: 'function', moduleName: 'm', state, coordinator, term: 1, submitter: 'me', priority: 'normal', tasks: 1, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0,
})

function node (selfId: string, records: Record<string, JobRecord>, timeoutMs = 5000): { service: LogsService, logs: JobLogs, sent: Array<[string, RpcMessage]> } {
  const logs = new JobLogs()
  const sent: Array<[string, RpcMessage]> = []
  const service = new LogsService({
    selfId, timeoutMs,
    send: (peer, m) => { sent.push([peer, m]) },
    local: (jobId, after) => logs.read(jobId, after),
    record: jobId => records[jobId],
    query: async () => undefined,
  })
  return { service, logs, sent }
}

describe('logs service', () => {
  it('answers from its own copy, else asks the coordinator, which answers with its page and state', async () => {
    const coord = node('coord', { j: record('j', 'coord', 'done') })
    coord.logs.add('j', { task: 0, attempt: 1, node: 'w' }, { lines: [[0, 1, 5, 'one'], [0, 2, 6, 'two']] })
    const own = await coord.service.get('j', 0)
    expect(own).toMatchObject({ available: true, coordinator: 'coord', state: 'done', next: 2, dropped: 0 })
    expect(own.lines.map(l => l.text)).toEqual(['one', 'two'])

    const asker = node('other', { j: record('j', 'coord') })
    const answer = asker.service.get('j', 1)
    await Promise.resolve()
    const [[to, question]] = asker.sent as [[string, RpcMessage]]
    expect([to, question]).toEqual(['coord', { t: 'logs.get', jobId: 'j', after: 1 }])
    coord.service.onGet('other', question as Extract<RpcMessage, { t: 'logs.get' }>)
    const [[back, reply]] = coord.sent as [[string, RpcMessage]]
    expect(back).toBe('other')
    // An answer for another `after`, or from another peer, is not this one.
    asker.service.onFound('coord', { ...(reply as Extract<RpcMessage, { t: 'logs.found' }>), after: 0 })
    asker.service.onFound('someone', reply as Extract<RpcMessage, { t: 'logs.found' }>)
    asker.service.onFound('coord', reply as Extract<RpcMessage, { t: 'logs.found' }>)
    const got = await answer
    expect(got).toMatchObject({ available: true, coordinator: 'coord', state: 'done', next: 2 })
    expect(got.lines.map(l => l.text)).toEqual(['two'])
  })

  it('says why when the coordinator does not answer, or keeps nothing', async () => {
    const asker = node('other', { j: record('j', 'coord') }, 10)
    expect(await asker.service.get('j', 0)).toMatchObject({ available: false, lines: [], next: 0, reason: expect.stringMatching(/did not answer/) })
    const self = node('coord', { j: record('j', 'coord') })
    expect(await self.service.get('j', 0)).toMatchObject({ available: false, reason: expect.stringMatching(/keeps no output/) })
  })

  it('refuses a job no node knows', async () => {
    await expect(node('a', {}).service.get('nope', 0)).rejects.toBeInstanceOf(LogsUnknownJobError)
  })
})
