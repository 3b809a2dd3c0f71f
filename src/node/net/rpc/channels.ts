import type { Stream } from '@libp2p/interface'
import type { MeshLibp2p } from '../libp2p.js'
import { dialPeer } from '../dial.js'
import type { Logger } from '../../host/logger.js'
import { encodeFrames, FrameDecoder } from './frames.js'

// Direct peer-to-peer messages (tasks, results, code, job updates) — never gossip.
// One long-lived outbound stream per peer carries our messages to it; messages queued in
// one event-loop turn leave in one send(), which is what lets a connection carry tens of
// thousands of tasks per second (see shared/stack-notes.md). Big payloads go out in slices,
// each once the stream has sent the previous ones on (see `sendSlices`).

// 1.1.0: job.progress names peers by their place in `peers` (1.0.0 nodes would refuse it).
// 1.2.0: a task's result carries how long it ran (`ms`), which 1.1.0 nodes would refuse.
// 1.3.0: an assign and its result may carry a group of tasks (`group`), which 1.2.0 nodes would refuse.
// 1.4.0: job.cancel carries the cancelled record and is acknowledged (job.cancelAck); a claim reply
// may say the member holds the job cancelled (`cancelled`). 1.3.0 nodes would refuse all three.
// 1.5.0: a combining job's assigns say `combine`, a folded group's result `folded`, and done
// entries of folded tasks have no value (src/jobs/folded.ts); 1.4.0 nodes would refuse them.
// 1.6.0: a task's result may carry its output (`logs` on task.ok, task.failed and task.results),
// and logs.get/logs.found ask a job's coordinator for it (`meshwork logs`); 1.5.0 nodes would refuse them.
// 1.7.0: a failure's kind is one of FAILURE_KINDS (src/jobs/failure-kinds.ts), and a 1.6.0 node may
// send others, which 1.7.0 nodes refuse.
export const RPC_PROTOCOL = '/meshwork/rpc/1.7.0'
const SLICE_BYTES = 1024 * 1024
/** Waiting this long for a stream to move any data on, the stream counts as broken (default). */
const DRAIN_STALL_MS = 30_000

export interface ChannelsOptions {
  frameBytesMax: number
  log: Logger
  /** A decoded frame from a peer (the connection authenticated `from`). */
  onFrame: (from: string, payload: Buffer) => void
  /** Our stream to `peerId` failed: whatever was queued or in flight to it may be lost. */
  onUnreachable: (peerId: string, reason: string) => void
  /** The addresses a peer announces in its state vector (gossip may bring a peer this node never dialled). */
  addrsOf?: (peerId: string) => string[]
  /** Called as a turn's messages are flushed, before they leave: a last chance to send() (batches held until then). */
  beforeFlush?: () => void
  /** A stream that moves no data on for this long is aborted and its peer reported unreachable (default 30 000). */
  drainStallMs?: number
}

interface Outbound {
  stream: Stream | undefined
  queue: Uint8Array[]
  writing: boolean
}

export class Channels {
  private readonly out = new Map<string, Outbound>()
  private flushScheduled = false
  private closed = false

  constructor (private readonly node: MeshLibp2p, private readonly opts: ChannelsOptions) {}

  async start (): Promise<void> {
    await this.node.handle(RPC_PROTOCOL, (stream, connection) => {
      this.readFrom(connection.remotePeer.toString(), stream)
    }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
  }

  async stop (): Promise<void> {
    this.closed = true
    await this.node.unhandle(RPC_PROTOCOL)
    for (const o of this.out.values()) o.stream?.abort(new Error('node stopping'))
    this.out.clear()
  }

  /** Queue a message for `peerId`; it leaves with everything else queued this turn. */
  send (peerId: string, payload: Uint8Array): void {
    if (this.closed) return
    let o = this.out.get(peerId)
    if (o === undefined) {
      o = { stream: undefined, queue: [], writing: false }
      this.out.set(peerId, o)
    }
    o.queue.push(payload)
    this.wake()
  }

  /** Flush at the end of this turn even if nothing was sent yet (someone holds messages until beforeFlush). */
  wake (): void {
    if (this.closed || this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => this.flushAll())
  }

  private flushAll (): void {
    // Still marked scheduled while beforeFlush sends, so those messages join this flush.
    this.opts.beforeFlush?.()
    this.flushScheduled = false
    for (const [peerId, o] of this.out) {
      if (o.queue.length > 0 && !o.writing) void this.flush(peerId, o)
    }
  }

  private async flush (peerId: string, o: Outbound): Promise<void> {
    o.writing = true
    try {
      while (o.queue.length > 0 && !this.closed) {
        const stream = o.stream !== undefined && o.stream.status === 'open' ? o.stream : await this.open(peerId, o)
        const payloads = o.queue
        o.queue = []
        await sendSlices(stream, encodeFrames(payloads), this.opts.drainStallMs ?? DRAIN_STALL_MS)
      }
    } catch (err) {
      o.queue = []
      o.stream?.abort(err as Error)
      o.stream = undefined
      this.opts.log.debug({ peer: peerId, err: (err as Error).message }, 'rpc stream failed')
      this.opts.onUnreachable(peerId, (err as Error).message)
    } finally {
      o.writing = false
    }
  }

  private async open (peerId: string, o: Outbound): Promise<Stream> {
    const stream = await dialPeer(this.node, peerId, RPC_PROTOCOL, this.opts.addrsOf?.(peerId) ?? [], AbortSignal.timeout(10_000))
    stream.maxWriteBufferLength = 64 * SLICE_BYTES
    stream.addEventListener('close', () => { if (o.stream === stream) o.stream = undefined })
    // Nothing comes back on our outbound stream (replies use the peer's own stream to us).
    stream.addEventListener('message', () => {})
    o.stream = stream
    return stream
  }

  private readFrom (from: string, stream: Stream): void {
    const decoder = new FrameDecoder(this.opts.frameBytesMax)
    stream.maxReadBufferLength = this.opts.frameBytesMax + 1024
    stream.addEventListener('message', evt => {
      let frames: Buffer[]
      try {
        frames = decoder.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
      } catch (err) {
        this.opts.log.warn({ from, err: (err as Error).message }, 'closing rpc stream: bad framing')
        stream.abort(err as Error)
        return
      }
      for (const frame of frames) {
        try { this.opts.onFrame(from, frame) } catch (err) { this.opts.log.error({ from, err }, 'rpc handler failed') }
      }
    })
  }
}

/**
 * Sends `bytes` a slice at a time, the next slice only once less than a slice waits in the
 * stream's own buffer. 'drain' alone is not enough: a stream signals it whenever a little room
 * opens (a yamux window update), so a payload larger than the window (a job's whole input, to a
 * backup) kept piling up in the buffer, and past the stream's maxWriteBufferLength the stream
 * aborts itself inside send(), which returns false instead of throwing: the 'close' event had
 * already passed, and the wait for 'drain' never ended, wedging every later message to that
 * peer (seen as 10 s stalls of later jobs, their submissions timing out).
 */
export async function sendSlices (stream: Stream, bytes: Uint8Array, stallMs: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    let room = stream.send(bytes.subarray(at, at + SLICE_BYTES))
    while (!room || stream.writeBufferLength >= SLICE_BYTES) {
      await drained(stream, stallMs)
      room = true
    }
  }
}

/** The stream's next 'drain'; rejects if it is closed (already, or meanwhile) or stays stuck for `stallMs`. */
async function drained (stream: Stream, stallMs: number): Promise<void> {
  if (stream.status !== 'open') throw new Error(`stream ${stream.status} while sending`)
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new Error('stream closed while waiting for drain')) }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`stream moved no data on for ${stallMs} ms`)) }, stallMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}
