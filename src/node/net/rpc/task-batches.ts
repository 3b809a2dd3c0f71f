import { encodeAttached, type RpcMessage } from '../../../jobs/wire.js'
import { jsonText } from '../../../jobs/raw-json.js'

// Tasks and results travel in batches. The cores emit one `task.assign` per task and the
// worker one `task.ok`/`task.failed` per outcome; sent as they are, each was its own JSON
// object repeating the job id, the code hash and the rest, parsed and validated on its own.
// Here the messages a node sends to one peer in one event-loop turn are grouped per job into
// one `task.assigns` (the fields every task of that job shares, once, then a tuple per task)
// or one `task.results` message, and `unbatch` turns them back into the cores' messages.
// A message of any other kind to the same peer first flushes that peer's batches, so the
// order a peer sees is the order they were sent in (an abort never overtakes its assign).

type Assign = Extract<RpcMessage, { t: 'task.assign' }>
type Ok = Extract<RpcMessage, { t: 'task.ok' }>
type Failed = Extract<RpcMessage, { t: 'task.failed' }>
export type BatchedMessage = Assign | Ok | Failed

/** A batch is cut once its entries reach this many bytes (a single bigger entry goes alone). */
export const BATCH_BYTES_MAX = 256 * 1024

/** A group attempt (its assign or its result) travels as its own message: the batch tuples carry one task each. */
export function isBatched (message: RpcMessage): message is BatchedMessage {
  return (message.t === 'task.assign' || message.t === 'task.ok' || message.t === 'task.failed') && !('group' in message && message.group !== undefined)
}

interface Batch {
  /** The message's JSON up to its arrays, e.g. `{"t":"task.assigns",…,"tasks":[` */
  head: string
  entries: string[]
  failed?: string[]
  /** A results batch's results, as JSON texts: its frame's attachments, each `ok` entry naming its own. */
  results?: string[]
  /** A results batch's task output, `[attemptId, logs]` as JSON, for the attempts that wrote any. */
  logs?: string[]
  bytes: number
}

/** About what an entry adds besides its result, to cut a batch before it would pass the limit. */
const ENTRY_BYTES_GUESS = 64

export class TaskBatcher {
  /** peerId → batch key → batch, in the order the batches were opened */
  private readonly pending = new Map<string, Map<string, Batch>>()

  /**
   * @param emit hands an encoded batch to the transport (in order, per peer)
   * @param onPending called when the first message of a turn is held, so the transport flushes this turn
   */
  constructor (
    private readonly emit: (peerId: string, bytes: Uint8Array) => void,
    private readonly onPending: () => void,
    private readonly batchBytesMax = BATCH_BYTES_MAX,
  ) {}

  /** Holds `message` for `peerId` until the next flush; returns the size of its entry. */
  add (peerId: string, message: BatchedMessage): number {
    let batches = this.pending.get(peerId)
    if (batches === undefined) {
      if (this.pending.size === 0) this.onPending()
      batches = new Map()
      this.pending.set(peerId, batches)
    }
    // A result travels as its JSON text, an attachment of the batch's frame (wire.ts), never parsed here.
    const result = message.t === 'task.ok' ? jsonText(message.value ?? null) : undefined
    let entry = message.t === 'task.assign'
      ? JSON.stringify([message.taskIndex, message.attemptId, message.chunk])
      : message.t === 'task.failed' ? JSON.stringify(message.stack !== undefined ? [message.taskIndex, message.attemptId, message.kind, message.error, message.stack] : [message.taskIndex, message.attemptId, message.kind, message.error]) : ''
    const logs = message.t !== 'task.assign' && message.logs !== undefined ? JSON.stringify([message.attemptId, message.logs]) : undefined
    const size = (result !== undefined ? result.length + ENTRY_BYTES_GUESS : entry.length) + (logs?.length ?? 0)
    const key = batchKey(message)
    let batch = batches.get(key)
    if (batch !== undefined && batch.bytes + size >= this.batchBytesMax) {
      // This entry would take the batch over the limit: what is held leaves first.
      batches.delete(key)
      this.emit(peerId, encodeBatch(batch))
      batch = undefined
    }
    if (batch === undefined) {
      batch = { head: batchHead(message), entries: [], bytes: 0, ...(message.t === 'task.assign' ? {} : { failed: [], results: [] }) }
      batches.set(key, batch)
    }
    if (message.t === 'task.ok') {
      const results = batch.results as string[]
      entry = `[${message.taskIndex},${JSON.stringify(message.attemptId)},${results.length},${message.ms}]`
      results.push(result as string)
    }
    if (message.t === 'task.failed') batch.failed?.push(entry)
    else batch.entries.push(entry)
    if (logs !== undefined) (batch.logs ??= []).push(logs)
    batch.bytes += size + 1
    if (batch.bytes >= this.batchBytesMax) {
      batches.delete(key)
      this.emit(peerId, encodeBatch(batch))
    }
    return size
  }

  /** Sends what is held for `peerId` now (before another kind of message to it). */
  flushPeer (peerId: string): void {
    const batches = this.pending.get(peerId)
    if (batches === undefined) return
    this.pending.delete(peerId)
    for (const batch of batches.values()) this.emit(peerId, encodeBatch(batch))
  }

  /** Sends everything held (the transport calls this as it flushes a turn's messages). */
  flush (): void {
    for (const peerId of [...this.pending.keys()]) this.flushPeer(peerId)
  }
}

/** The cores' messages carried by a batch (any other message: itself). */
export function unbatch (message: RpcMessage): RpcMessage[] {
  switch (message.t) {
    case 'task.assigns': {
      const { jobId, term, codeHash, kind, parts, tools, guest, source, combine } = message
      return message.tasks.map(([taskIndex, attemptId, chunk]) => ({
        t: 'task.assign', jobId, taskIndex, attemptId, term, codeHash, kind, parts, chunk, ...(tools !== undefined ? { tools } : {}), ...(guest !== undefined ? { guest } : {}), ...(source !== undefined ? { source } : {}), ...(combine !== undefined ? { combine } : {}),
      }))
    }
    case 'task.results': {
      const { jobId } = message
      const logs = message.logs !== undefined && message.logs.length > 0 ? new Map(message.logs) : undefined
      const logsOf = (attemptId: string): { logs?: NonNullable<typeof message.logs>[number][1] } => {
        const l = logs?.get(attemptId)
        return l !== undefined ? { logs: l } : {}
      }
      const out: RpcMessage[] = message.ok.map(([taskIndex, attemptId, value, ms]) => ({ t: 'task.ok', jobId, taskIndex, attemptId, value, ms, ...logsOf(attemptId) }))
      for (const [taskIndex, attemptId, kind, error, stack] of message.failed) out.push({ t: 'task.failed', jobId, taskIndex, attemptId, kind, error, ...(stack !== undefined ? { stack } : {}), ...logsOf(attemptId) })
      return out
    }
    default: return [message]
  }
}

function batchKey (m: BatchedMessage): string {
  // Assignments share a batch only when every field but the task's own is the same (guest, source and combine are the job's).
  return m.t === 'task.assign'
    ? `a\n${m.jobId}\n${m.term}\n${m.codeHash}\n${m.kind}\n${m.parts}\n${m.tools?.join('\n') ?? '-'}`
    : `r\n${m.jobId}`
}

function batchHead (m: BatchedMessage): string {
  if (m.t !== 'task.assign') return `{"t":"task.results","jobId":${JSON.stringify(m.jobId)},"ok":[`
  const shared = { t: 'task.assigns', jobId: m.jobId, term: m.term, codeHash: m.codeHash, kind: m.kind, parts: m.parts, ...(m.tools !== undefined ? { tools: m.tools } : {}), ...(m.guest !== undefined ? { guest: m.guest } : {}), ...(m.source !== undefined ? { source: m.source } : {}), ...(m.combine !== undefined ? { combine: m.combine } : {}) }
  return `${JSON.stringify(shared).slice(0, -1)},"tasks":[`
}

function encodeBatch (batch: Batch): Uint8Array {
  if (batch.failed === undefined) return Buffer.from(`${batch.head}${batch.entries.join(',')}]}`, 'utf8')
  const json = `${batch.head}${batch.entries.join(',')}],"failed":[${batch.failed.join(',')}]${batch.logs !== undefined ? `,"logs":[${batch.logs.join(',')}]` : ''}}`
  return batch.results !== undefined && batch.results.length > 0 ? encodeAttached(json, batch.results) : Buffer.from(json, 'utf8')
}
