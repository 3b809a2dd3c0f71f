import type { ServerResponse } from 'node:http'
import type { JobRecord } from '../../jobs/job-spec.js'
import { ApiError, type ApiRequest } from './api-server.js'
import type { Logger } from '../host/logger.js'
import type { StatusView } from '../cli/status-view.js'

// GET /events: Server-Sent Events for the dashboard. Each event is a whole snapshot, so a
// client that falls behind loses nothing by skipping to the latest one:
//   event: hello   { self, serverTimeMs }
//   event: status  the `status --json` view — at once when a peer's status, slots or running
//                  tasks change, else at most every `statusEveryMs` (CPU and memory drift)
//   event: jobs    { jobs: [...] } the most recent `jobsMax` job records (results left out)
// The sampling timer runs only while clients are connected.

export interface EventsStreamOptions {
  selfId: string
  status: () => StatusView
  jobs: () => JobRecord[]
  log: Logger
  /** How often the snapshots are taken and compared. */
  sampleMs?: number
  statusEveryMs?: number
  heartbeatMs?: number
  clientsMax?: number
  jobsMax?: number
  /** A client with more than this many bytes unsent skips snapshots until it drains. */
  clientBacklogBytesMax?: number
}

interface Client { res: ServerResponse, behind: boolean }

export class EventsStream {
  private readonly clients = new Set<Client>()
  private timer: NodeJS.Timeout | undefined
  private lastStatus = ''
  private lastStatusKey = ''
  private lastStatusMs = 0
  private lastJobs = ''
  private lastBeatMs = 0

  constructor (private readonly opts: EventsStreamOptions) {}

  get clientCount (): number { return this.clients.size }

  /** The route handler: keeps the response open and returns undefined (it writes itself). */
  readonly handle = (req: ApiRequest): undefined => {
    if (this.clients.size >= (this.opts.clientsMax ?? 32)) throw new ApiError(503, `too many dashboard connections (${this.clients.size}); close a tab and retry`)
    const res = req.res
    req.raw.socket.setNoDelay(true)
    req.raw.socket.setTimeout(0)
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    // Bring the clients already connected up to date first, so the snapshots below are the latest for everyone.
    this.sample()
    const client: Client = { res, behind: false }
    this.clients.add(client)
    res.on('close', () => {
      this.clients.delete(client)
      if (this.clients.size === 0) this.stopTimer()
    })
    res.on('drain', () => {
      if (!client.behind) return
      client.behind = false
      this.sendTo(client, 'status', this.lastStatus)
      this.sendTo(client, 'jobs', this.lastJobs)
    })
    res.write('retry: 2000\n\n')
    this.sendTo(client, 'hello', JSON.stringify({ self: this.opts.selfId, serverTimeMs: Date.now() }))
    this.sendTo(client, 'status', this.lastStatus)
    this.sendTo(client, 'jobs', this.lastJobs)
    this.startTimer()
    return undefined
  }

  close (): void {
    this.stopTimer()
    for (const c of this.clients) c.res.end()
    this.clients.clear()
  }

  private startTimer (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      try { this.sample() } catch (err) { this.opts.log.error({ err }, 'dashboard events sampling failed') }
    }, this.opts.sampleMs ?? 250)
    this.timer.unref()
  }

  private stopTimer (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Take snapshots and broadcast the ones that changed. */
  private sample (): void {
    const now = Date.now()
    const view = this.opts.status()
    const key = view.peers.map(p => `${p.peerId}:${p.status}:${p.slotsFree}:${p.runningTasks}:${p.accepting ? 1 : 0}`).join('|')
    if (key !== this.lastStatusKey || now - this.lastStatusMs >= (this.opts.statusEveryMs ?? 1000) || this.lastStatus === '') {
      this.lastStatusKey = key
      this.lastStatusMs = now
      this.lastStatus = JSON.stringify(view)
      this.broadcast('status', this.lastStatus)
    }
    const jobsMax = this.opts.jobsMax ?? 200
    const all = this.opts.jobs()
    const jobs = JSON.stringify({ jobs: all.slice(Math.max(0, all.length - jobsMax)).map(withoutResult) })
    if (jobs !== this.lastJobs) {
      this.lastJobs = jobs
      this.broadcast('jobs', jobs)
    }
    if (now - this.lastBeatMs >= (this.opts.heartbeatMs ?? 15_000)) {
      this.lastBeatMs = now
      for (const c of this.clients) if (!c.behind) c.res.write(': keep-alive\n\n')
    }
  }

  private broadcast (event: string, data: string): void {
    for (const c of this.clients) this.sendTo(c, event, data)
  }

  private sendTo (client: Client, event: string, data: string): void {
    if (client.behind || client.res.destroyed) return
    if (client.res.writableLength > (this.opts.clientBacklogBytesMax ?? 4 * 1024 * 1024)) {
      client.behind = true
      return
    }
    // JSON.stringify never emits a raw newline, so each payload is one `data:` line.
    client.res.write(`event: ${event}\ndata: ${data}\n\n`)
  }
}

function withoutResult (record: JobRecord): Omit<JobRecord, 'result'> {
  const { result: _result, ...rest } = record
  return rest
}
