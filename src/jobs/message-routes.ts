import { FINAL_STATES, type JobRecord } from './job-spec.js'
import type { RpcMessage } from './wire.js'

// Which role of a node takes each job-lifecycle message, and what is refused before any role
// sees it: one table for the daemon (src/node/daemon/daemon.ts) and the simulator (sim/world.ts), so
// that the simulator's nodes route and admit what real nodes do. `F` is how a binding names
// the sender (a peer id in the daemon, a node index in the simulator); `fromId` is its peer id.

type Msg<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export interface NodeRoles<F> {
  /** A message refused here: the binding logs or counts it. */
  drop: (from: F, reason: string) => void
  worker: {
    assign: (from: F, m: Msg<'task.assign'>) => void
    abort: (from: F, attemptId: string) => void
    takeover: (jobId: string, term: number, coordinator: string) => void
    prepare?: (m: Msg<'job.prepare'>) => void
    code?: (from: F, hash: string, code: string) => void
  }
  coordinator: {
    taskResult: (from: F, m: Msg<'task.ok'> | Msg<'task.failed'>) => void
    replicaAck: (from: F, m: Msg<'job.replicaAck'>) => void
    confirmReply: (from: F, m: Msg<'job.confirmReply'>) => void
    commitReply: (from: F, m: Msg<'job.commitReply'>) => void
    codeRequest?: (from: F, hash: string) => void
  }
  replicas: {
    /** A job record from its coordinator, or a final one from any member. */
    record: (from: F, record: JobRecord) => void
    replica: (from: F, m: Msg<'job.replica'>) => void
    progress: (from: F, m: Msg<'job.progress'>) => void
    claim: (from: F, m: Msg<'job.claim'>) => void
    claimReply: (from: F, m: Msg<'job.claimReply'>) => void
    confirm: (from: F, m: Msg<'job.confirm'>) => void
    commit: (from: F, m: Msg<'job.commit'>) => void
    takeover: (from: F, m: Msg<'job.takeover'>) => void
    cancel?: (from: F, m: Msg<'job.cancel'>) => void
    cancelAck?: (from: F, m: Msg<'job.cancelAck'>) => void
    handover?: (from: F, m: Msg<'job.handover'>) => void
  }
}

/** Messages of the job lifecycle that this table routes; the rest (submissions, queries, timelines) are the binding's. */
export type RoutedMessage = Msg<
  'task.assign' | 'task.abort' | 'task.ok' | 'task.failed' | 'job.prepare' | 'code.get' | 'code.put' |
  'job.update' | 'job.cancel' | 'job.cancelAck' | 'job.replica' | 'job.replicaAck' | 'job.progress' |
  'job.claim' | 'job.claimReply' | 'job.confirm' | 'job.confirmReply' | 'job.commit' | 'job.commitReply' |
  'job.takeover' | 'job.handover'
>

const ROUTED: ReadonlySet<string> = new Set<RoutedMessage['t']>([
  'task.assign', 'task.abort', 'task.ok', 'task.failed', 'job.prepare', 'code.get', 'code.put',
  'job.update', 'job.cancel', 'job.cancelAck', 'job.replica', 'job.replicaAck', 'job.progress',
  'job.claim', 'job.claimReply', 'job.confirm', 'job.confirmReply', 'job.commit', 'job.commitReply',
  'job.takeover', 'job.handover',
])

export function isRouted (m: { t: string }): m is RoutedMessage {
  return ROUTED.has(m.t)
}

export function routeMessage<F> (roles: NodeRoles<F>, from: F, fromId: string, m: RoutedMessage): void {
  switch (m.t) {
    case 'task.assign': return roles.worker.assign(from, m)
    case 'task.abort': return roles.worker.abort(from, m.attemptId)
    case 'job.prepare': return roles.worker.prepare?.(m)
    case 'code.put': return roles.worker.code?.(from, m.hash, m.code)
    case 'task.ok': case 'task.failed': return roles.coordinator.taskResult(from, m)
    case 'code.get': return roles.coordinator.codeRequest?.(from, m.hash)
    case 'job.replicaAck': return roles.coordinator.replicaAck(from, m)
    case 'job.confirmReply': return roles.coordinator.confirmReply(from, m)
    case 'job.commitReply': return roles.coordinator.commitReply(from, m)
    case 'job.update':
      // From its coordinator; a final record may also come from a member that took it over.
      if (m.record.coordinator !== fromId && !FINAL_STATES.has(m.record.state)) return roles.drop(from, `job.update for a job coordinated by ${m.record.coordinator}`)
      return roles.replicas.record(from, m.record)
    case 'job.replica': return roles.replicas.replica(from, m)
    case 'job.progress': return roles.replicas.progress(from, m)
    case 'job.claim': return roles.replicas.claim(from, m)
    case 'job.claimReply': return roles.replicas.claimReply(from, m)
    case 'job.confirm': return roles.replicas.confirm(from, m)
    case 'job.commit': return roles.replicas.commit(from, m)
    case 'job.takeover':
      // The replica holder learns the new term, and the worker abandons the old coordinator's attempts.
      roles.replicas.takeover(from, m)
      return roles.worker.takeover(m.jobId, m.term, m.coordinator)
    case 'job.cancel': return roles.replicas.cancel?.(from, m)
    case 'job.cancelAck': return roles.replicas.cancelAck?.(from, m)
    case 'job.handover': return roles.replicas.handover?.(from, m)
  }
}
