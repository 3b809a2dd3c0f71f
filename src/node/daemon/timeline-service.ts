import type { JobRecord } from '../../jobs/job-spec.js'
import type { JobTimeline } from '../../jobs/task-timeline.js'
import type { RpcMessage } from '../../jobs/wire.js'
import { MeshworkError } from '../../util/errors.js'
import { PeerReplies } from './peer-replies.js'

// The task timeline of a job, from whichever node is asked: the coordinator keeps it (see
// src/jobs/task-timeline.ts); any other node asks the job's coordinator over RPC.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export class TimelineUnknownJobError extends MeshworkError { readonly code = 'timeline-unknown-job' }

export interface TimelineServiceOptions {
  selfId: string
  send: (peerId: string, message: RpcMessage) => void
  /** This node's own copy, when it coordinates or coordinated the job. */
  local: (jobId: string) => JobTimeline | undefined
  record: (jobId: string) => JobRecord | undefined
  query: (jobId: string) => Promise<JobRecord | undefined>
  timeoutMs?: number
  /** Most questions waiting for an answer at once; more are answered "not available". */
  waitingMax?: number
}

export type TimelineAnswer =
  | { available: true, timeline: JobTimeline }
  | { available: false, coordinator: string, reason: string }

export class TimelineService {
  /** Questions to coordinators, by job id. */
  private readonly replies: PeerReplies<JobTimeline>

  constructor (private readonly opts: TimelineServiceOptions) {
    this.replies = new PeerReplies(opts.timeoutMs, opts.waitingMax)
  }

  async get (jobId: string): Promise<TimelineAnswer> {
    const own = this.opts.local(jobId)
    if (own !== undefined) return { available: true, timeline: own }
    const record = this.opts.record(jobId) ?? await this.opts.query(jobId)
    if (record === undefined) throw new TimelineUnknownJobError(`unknown job ${jobId}: no live node knows it`)
    const coordinator = record.coordinator
    if (coordinator === this.opts.selfId) return { available: false, coordinator, reason: 'this node no longer holds the timeline (it keeps the most recent jobs only)' }
    const timeline = await this.ask(coordinator, jobId)
    if (timeline === undefined) return { available: false, coordinator, reason: `coordinator ${coordinator} did not answer with a timeline (it may have restarted, died, or dropped an old job)` }
    return { available: true, timeline }
  }

  onGet (from: string, m: Msg<'timeline.get'>): void {
    const timeline = this.opts.local(m.jobId)
    this.opts.send(from, { t: 'timeline.found', jobId: m.jobId, ...(timeline !== undefined ? { timeline } : {}) })
  }

  onFound (from: string, m: Msg<'timeline.found'>): void {
    this.replies.answered(m.jobId, from, m.timeline)
  }

  private async ask (peer: string, jobId: string): Promise<JobTimeline | undefined> {
    return await this.replies.ask(jobId, peer, () => this.opts.send(peer, { t: 'timeline.get', jobId }))
  }
}
