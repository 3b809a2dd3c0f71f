import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { TaskTimelines } from '../../src/jobs/task-timeline.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { TimelineService, TimelineUnknownJobError } from '../../src/node/daemon/timeline-service.js'

// Where a job's timeline comes from: this node's own copy, else its coordinator over RPC.

const record = (jobId: string, coordinator: string): JobRecord => ({
  jobId, kind: 'function', moduleName: 'm', state: 'running', coordinator, term: 1, submitter: 'me', priority: 'normal', tasks: 1, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0,
})

function node (selfId: string, records: Record<string, JobRecord>, timeoutMs = 5000): { service: TimelineService, timelines: TaskTimelines, sent: Array<[string, RpcMessage]> } {
  const timelines = new TaskTimelines()
  const sent: Array<[string, RpcMessage]> = []
  const service = new TimelineService({
    selfId, timeoutMs,
    send: (peer, m) => { sent.push([peer, m]) },
    local: jobId => timelines.get(jobId, 0),
    record: jobId => records[jobId],
    query: async () => undefined,
  })
  return { service, timelines, sent }
}

describe('timeline service', () => {
  it('answers from its own copy, else asks the coordinator, which answers from its copy', async () => {
    const coord = node('coord', {})
    coord.timelines.begin('j', 1, 'coord', 1, 0, 0)
    coord.timelines.assign('j', 'j:0:1@1', 0, 'w', false, 1)
    expect(await coord.service.get('j')).toMatchObject({ available: true, timeline: { jobId: 'j', attempts: [{ peer: 'w' }] } })

    const other = node('other', { j: record('j', 'coord') })
    const pending = other.service.get('j')
    expect(other.sent).toEqual([['coord', { t: 'timeline.get', jobId: 'j' }]])
    coord.service.onGet('other', { t: 'timeline.get', jobId: 'j' })
    const [to, reply] = coord.sent[0]!
    expect(to).toBe('other')
    other.service.onFound('someone-else', reply as Extract<RpcMessage, { t: 'timeline.found' }>) // not who was asked: ignored
    other.service.onFound('coord', reply as Extract<RpcMessage, { t: 'timeline.found' }>)
    expect(await pending).toMatchObject({ available: true, timeline: { coordinator: 'coord' } })
  })

  it('says why there is no timeline: no copy, no answer, unknown job', async () => {
    const a = node('a', { j: record('j', 'b'), mine: record('mine', 'a') }, 50)
    const pending = a.service.get('j')
    a.service.onFound('b', { t: 'timeline.found', jobId: 'j' })
    expect(await pending).toMatchObject({ available: false, coordinator: 'b' })
    expect(await a.service.get('j')).toMatchObject({ available: false, reason: expect.stringContaining('did not answer') }) // times out
    expect(await a.service.get('mine')).toMatchObject({ available: false, coordinator: 'a' })
    await expect(a.service.get('nope')).rejects.toBeInstanceOf(TimelineUnknownJobError)
  })
})
