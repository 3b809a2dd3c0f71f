import { afterEach, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { ApiServer } from '../../src/node/api/api-server.js'
import { EventsStream } from '../../src/node/api/events-stream.js'
import { createLogger } from '../../src/node/host/logger.js'
import type { StatusView } from '../../src/node/cli/status-view.js'
import { waitFor } from '../helpers/wait.js'

// GET /events over a real HTTP server on 127.0.0.1, read the way a browser's EventSource does.

const servers: ApiServer[] = []
const aborts: AbortController[] = []
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort()
  for (const s of servers.splice(0)) await s.close()
})

function job (jobId: string, done: number): JobRecord {
  return { jobId, kind: 'function', moduleName: 'm.mjs', state: 'running', coordinator: 'p1', term: 1, submitter: 'p1', priority: 'normal', tasks: 4, done, inFlight: 1, failures: 0, tasksByPeer: {}, submittedAtMs: 1, result: { big: 'x' } }
}

async function setup (clientsMax = 4): Promise<{ url: string, stream: EventsStream, jobs: JobRecord[], samples: () => number }> {
  const log = createLogger('silent')
  const api = new ApiServer({ port: 0, bodyBytesMax: 1024, log })
  const jobs: JobRecord[] = [job('j1', 0)]
  const status: StatusView = { self: 'p1', peers: [] }
  let samples = 0
  const stream = new EventsStream({ selfId: 'p1', status: () => { samples++; return status }, jobs: () => jobs, log, sampleMs: 20, clientsMax })
  api.route('GET', '/events', stream.handle)
  servers.push(api)
  return { url: await api.listen(), stream, jobs, samples: () => samples }
}

/** Opens the stream and collects `{ event, data }` as they arrive. */
async function open (url: string): Promise<{ events: Array<{ event: string, data: unknown }>, status: number, abort: AbortController }> {
  const abort = new AbortController()
  aborts.push(abort)
  const res = await fetch(`${url}/events`, { signal: abort.signal })
  const events: Array<{ event: string, data: unknown }> = []
  if (res.ok && res.body !== null) {
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    void (async () => {
      let buffer = ''
      const decoder = new TextDecoder()
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true })
          let end
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
          }
        }
      } catch { /* aborted */ }
    })()
  } else {
    await res.text()
  }
  return { events, status: res.status, abort }
}

describe('the dashboard event stream', () => {
  it('sends hello, status and jobs at once, then every change, without job results', async () => {
    const { url, jobs, samples } = await setup()
    const client = await open(url)
    await waitFor('the first three events', () => client.events.length >= 3 ? true : undefined, 10_000, 10)
    expect(client.events.slice(0, 3).map(e => e.event)).toEqual(['hello', 'status', 'jobs'])
    expect((client.events[0]!.data as { self: string }).self).toBe('p1')
    const first = client.events[2]!.data as { jobs: JobRecord[] }
    expect(first.jobs[0]!.jobId).toBe('j1')
    expect(first.jobs[0]).not.toHaveProperty('result')
    jobs[0] = job('j1', 3)
    const update = await waitFor('the change', () => client.events.find(e => e.event === 'jobs' && (e.data as { jobs: JobRecord[] }).jobs[0]!.done === 3), 10_000, 10)
    expect(update).toBeDefined()
    // A snapshot that did not change is not sent again: however many samples were taken
    // while done was 3, exactly one event carries it.
    const seen = samples()
    await waitFor('a few more samples', () => samples() >= seen + 3 ? true : undefined, 10_000, 10)
    jobs[0] = job('j1', 4)
    await waitFor('the next change', () => client.events.find(e => e.event === 'jobs' && (e.data as { jobs: JobRecord[] }).jobs[0]!.done === 4), 10_000, 10)
    expect(client.events.filter(e => e.event === 'jobs' && (e.data as { jobs: JobRecord[] }).jobs[0]!.done === 3)).toHaveLength(1)
  })

  it('limits connections and stops sampling when the last client leaves', async () => {
    const { url, stream } = await setup(2)
    const a = await open(url)
    const b = await open(url)
    await waitFor('two clients', () => stream.clientCount === 2 ? true : undefined, 10_000, 10)
    const c = await open(url)
    expect(c.status).toBe(503)
    a.abort.abort()
    b.abort.abort()
    await waitFor('no clients', () => stream.clientCount === 0 ? true : undefined, 10_000, 10)
    const d = await open(url)
    expect(d.status).toBe(200)
  })
})
