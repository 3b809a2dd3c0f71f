import type { RpcMessage } from '../../src/jobs/wire.js'

// Messages between simulated nodes. The job lifecycle's messages are src/jobs/wire.ts's own
// (the cores in src/jobs and src/election produce them, here as in the node); the sim carries
// them as objects (it does not serialise them) with a modelled size in bytes; so are the
// worker core's (src/jobs/worker-core.ts), whose values here are numbers. The submission is
// sim-shaped: the job's plan stands in for its code and input.

type Rpc<T extends RpcMessage['t']> = Extract<RpcMessage, { t: T }>

export type SimMessage =
  | { t: 'vector', origin: number, data: Uint8Array }
  | Rpc<'task.assign'>
  | Rpc<'task.abort'>
  | Rpc<'task.ok'>
  | Rpc<'task.failed'>
  | { t: 'job.submit', jobId: string, term: number }
  | { t: 'job.ack', jobId: string, term: number }
  | Rpc<'job.update'>
  | Rpc<'job.replica'>
  | Rpc<'job.replicaAck'>
  | Rpc<'job.progress'>
  | Rpc<'job.claim'>
  | Rpc<'job.claimReply'>
  | Rpc<'job.confirm'>
  | Rpc<'job.confirmReply'>
  | Rpc<'job.commit'>
  | Rpc<'job.commitReply'>
  | Rpc<'job.takeover'>
  | { t: 'db.write', origin: number, data: Uint8Array }
  | { t: 'db.result', origin: number, result: Extract<SimMessage, { t: 'task.ok' | 'task.failed' }> }
  | { t: 'db.read' }
  | { t: 'db.rows', vectors: Array<[number, Uint8Array]>, results: Array<[number, Extract<SimMessage, { t: 'task.ok' | 'task.failed' }>]> }

export type MessageKind = SimMessage['t']

/** A job record as JSON (job.update, job.commit, a claim reply carrying the final record). */
const RECORD_BYTES = 420

/** Bytes on the wire for a message, before framing (a JSON estimate per kind). */
export function messageBytes (m: SimMessage, chunkBytes: number, resultBytes: number): number {
  switch (m.t) {
    case 'vector': case 'db.write': return m.data.byteLength + 8
    case 'task.assign': return 190 + chunkBytes + (m.group?.length ?? 0) * (12 + chunkBytes)
    case 'task.ok': return 118 + resultBytes + (m.group?.length ?? 0) * (12 + resultBytes)
    case 'task.failed': return 140 + m.error.length
    case 'job.progress': return 60 + m.peers.length * 56 + m.done.length * (16 + resultBytes)
    case 'job.replica': return 300 + m.replicaSet.length * 56 + m.chunks.length * chunkBytes + (m.done?.length ?? 0) * (24 + resultBytes)
    case 'job.update': case 'job.commit': return 60 + RECORD_BYTES
    case 'job.claimReply': return m.final !== undefined ? 120 + RECORD_BYTES : 120
    case 'db.result': return 20 + messageBytes(m.result, chunkBytes, resultBytes)
    case 'db.rows': {
      let bytes = 32
      for (const [, d] of m.vectors) bytes += d.byteLength + 8
      for (const [, r] of m.results) bytes += messageBytes(r, chunkBytes, resultBytes)
      return bytes
    }
    default: return 120
  }
}

/** The job a message is about (for its per-job sizes), if any. */
export function jobIdOf (m: SimMessage): string | undefined {
  if ('jobId' in m) return m.jobId
  if (m.t === 'job.replica') return m.spec.jobId
  if (m.t === 'job.update') return m.record.jobId
  return undefined
}
