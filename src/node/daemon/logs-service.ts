import { FINAL_STATES, type JobRecord } from '../../jobs/job-spec.js'
import type { LogPage } from '../../jobs/task-logs.js'
import type { RpcMessage } from '../../jobs/wire.js'
import { MeshworkError } from '../../util/errors.js'
import { PeerReplies } from './peer-replies.js'

// A job's task output (`meshwork logs`, GET /jobs/:id/logs), from whichever node is asked: the
// job's coordinator keeps it (JobCoordinator, src/jobs/task-logs.ts); any other node asks the
// coordinator over RPC (logs.get / logs.found), as TimelineService does for the timeline.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export class LogsUnknownJobError extends MeshworkError { readonly code = 'logs-unknown-job' }

export interface LogsServiceOptions {
  selfId: string
  send: (peerId: string, message: RpcMessage) => void
  /** This node's own copy, when it coordinates or coordinated the job. */
  local: (jobId: string, after: number) => LogPage | undefined
  record: (jobId: string) => JobRecord | undefined
  query: (jobId: string) => Promise<JobRecord | undefined>
  timeoutMs?: number
  /** Most questions waiting for an answer at once; more are answered "not available". */
  waitingMax?: number
}

/**
 * GET /jobs/:id/logs. `available: false`: neither this node nor the coordinator answered with the
 * job's output (`reason` says why); `lines` is then empty. `state`: the job's, as the node that
 * answered knows it: once it is final and `lines` is empty, a follower has seen every line.
 */
export interface LogsAnswer extends LogPage {
  jobId: string
  coordinator: string
  state: string
  available: boolean
  reason?: string
}

export class LogsService {
  /** Questions to coordinators, by `jobId\nafter`. */
  private readonly replies: PeerReplies<Msg<'logs.found'>>

  constructor (private readonly opts: LogsServiceOptions) {
    this.replies = new PeerReplies(opts.timeoutMs, opts.waitingMax)
  }

  async get (jobId: string, after: number): Promise<LogsAnswer> {
    const own = this.opts.local(jobId, after)
    const record = this.opts.record(jobId) ?? (own === undefined ? await this.opts.query(jobId) : undefined)
    if (record === undefined && own === undefined) throw new LogsUnknownJobError(`unknown job ${jobId}: no live node knows it`)
    const coordinator = record?.coordinator ?? this.opts.selfId
    const state = record?.state ?? 'unknown'
    const empty = { lines: [], next: after, dropped: 0 }
    if (coordinator === this.opts.selfId) {
      if (own !== undefined) return { jobId, coordinator, state, available: true, ...own }
      return { jobId, coordinator, state, available: false, reason: 'this node keeps no output of the job (it keeps that of the jobs whose records it holds, most recent first)', ...empty }
    }
    const found = await this.ask(coordinator, jobId, after)
    if (found?.page !== undefined) {
      // A final state wins (the coordinator may have moved on from this job's record, or this node).
      const theirs = found.state ?? state
      return { jobId, coordinator, state: isFinal(state) && !isFinal(theirs) ? state : theirs, available: true, ...found.page }
    }
    // A coordinator before a failover keeps what its tasks wrote then.
    if (own !== undefined) return { jobId, coordinator, state, available: true, ...own }
    const reason = found === undefined
      ? `coordinator ${coordinator} did not answer (it may have restarted, died, or dropped an old job)`
      : `coordinator ${coordinator} keeps no output of the job`
    return { jobId, coordinator, state: found?.state ?? state, available: false, reason, ...empty }
  }

  onGet (from: string, m: Msg<'logs.get'>): void {
    const page = this.opts.local(m.jobId, m.after)
    const state = this.opts.record(m.jobId)?.state
    this.opts.send(from, { t: 'logs.found', jobId: m.jobId, after: m.after, ...(page !== undefined ? { page } : {}), ...(state !== undefined ? { state } : {}) })
  }

  onFound (from: string, m: Msg<'logs.found'>): void {
    this.replies.answered(key(m.jobId, m.after), from, m)
  }

  private async ask (peer: string, jobId: string, after: number): Promise<Msg<'logs.found'> | undefined> {
    return await this.replies.ask(key(jobId, after), peer, () => this.opts.send(peer, { t: 'logs.get', jobId, after }))
  }
}

export function isFinal (state: string): boolean {
  return (FINAL_STATES as ReadonlySet<string>).has(state)
}

function key (jobId: string, after: number): string {
  return `${jobId}\n${after}`
}
