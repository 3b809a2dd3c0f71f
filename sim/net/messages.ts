// Messages between simulated nodes: the same kinds as src/jobs/wire.ts and the gossip topic,
// carried as objects (the sim does not serialise them) with a modelled size in bytes.

export type SimMessage =
  | { t: 'vector', origin: number, data: Uint8Array }
  | { t: 'task.assign', jobId: string, taskIndex: number, attemptId: string, term: number }
  | { t: 'task.abort', attemptId: string }
  | { t: 'task.ok', jobId: string, taskIndex: number, attemptId: string, value: number }
  | { t: 'task.failed', jobId: string, taskIndex: number, attemptId: string, error: string, retryable: boolean, returned?: boolean }
  | { t: 'job.submit', jobId: string, term: number }
  | { t: 'job.ack', jobId: string, term: number }
  | { t: 'job.update', jobId: string, term: number, final: boolean }  // final=false: running (replicated)
  | { t: 'job.replica', jobId: string, term: number, replicaSet: number[] }
  | { t: 'job.progress', jobId: string, term: number, done: Array<[number, number]> }
  | { t: 'job.claim', jobId: string, term: number }
  | { t: 'job.claimReply', jobId: string, term: number, ok: boolean, promisedTerm: number, final: boolean }
  | { t: 'job.commit', jobId: string, term: number }
  | { t: 'job.commitReply', jobId: string, term: number, ok: boolean, promisedTerm: number }
  | { t: 'job.takeover', jobId: string, term: number, coordinator: number }
  | { t: 'db.write', origin: number, data: Uint8Array }
  | { t: 'db.result', origin: number, result: Extract<SimMessage, { t: 'task.ok' | 'task.failed' }> }
  | { t: 'db.read' }
  | { t: 'db.rows', vectors: Array<[number, Uint8Array]>, results: Array<[number, Extract<SimMessage, { t: 'task.ok' | 'task.failed' }>]> }

export type MessageKind = SimMessage['t']

/** Bytes on the wire for a message, before framing (a JSON estimate per kind). */
export function messageBytes (m: SimMessage, chunkBytes: number, resultBytes: number): number {
  switch (m.t) {
    case 'vector': case 'db.write': return m.data.byteLength + 8
    case 'task.assign': return 190 + chunkBytes
    case 'task.ok': return 110 + resultBytes
    case 'task.failed': return 140 + m.error.length
    case 'job.progress': return 60 + m.done.length * (24 + resultBytes)
    case 'job.replica': return 300 + m.replicaSet.length * 56
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
