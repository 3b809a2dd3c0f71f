import type { Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { sendSlices } from '../../src/node/net/rpc/channels.js'

const MB = 1024 * 1024

/**
 * A stream that behaves like libp2p 3's message streams over yamux where it matters here: send()
 * queues bytes and returns false once some wait; whenever the remote opens some window (`grant`)
 * and bytes are waiting, it sends what fits and dispatches 'drain', however little that was; and
 * past maxWriteBufferLength it aborts itself inside send(), which then returns false.
 */
class WindowedStream extends EventTarget {
  status = 'open'
  maxWriteBufferLength: number
  delivered = 0
  maxBuffered = 0
  private buffered = 0
  private credit: number

  constructor (opts: { credit: number, maxWriteBufferLength: number }) {
    super()
    this.credit = opts.credit
    this.maxWriteBufferLength = opts.maxWriteBufferLength
  }

  get writeBufferLength (): number { return this.buffered }

  send (data: Uint8Array): boolean {
    if (this.status !== 'open') throw new Error(`Cannot write to a stream that is ${this.status}`)
    this.buffered += data.byteLength
    this.maxBuffered = Math.max(this.maxBuffered, this.buffered)
    if (this.buffered > this.maxWriteBufferLength) {
      this.status = 'aborted'
      this.dispatchEvent(new Event('close'))
      return false
    }
    this.flush()
    return this.buffered === 0
  }

  /** The remote opened `bytes` more of window. */
  grant (bytes: number): void {
    this.credit += bytes
    if (this.buffered === 0) return
    this.flush()
    this.dispatchEvent(new Event('drain'))
  }

  private flush (): void {
    const n = Math.min(this.credit, this.buffered)
    this.credit -= n
    this.buffered -= n
    this.delivered += n
  }
}

describe('sendSlices', () => {
  const timers: NodeJS.Timeout[] = []
  afterEach(() => { for (const t of timers) clearInterval(t) })

  it('sends a payload much larger than the window without piling it up in the stream', async () => {
    const stream = new WindowedStream({ credit: 256 * 1024, maxWriteBufferLength: 4 * MB })
    // The remote opens 256 KiB at a time; each opening is a 'drain'.
    timers.push(setInterval(() => stream.grant(256 * 1024), 1))
    await sendSlices(stream as unknown as Stream, new Uint8Array(20 * MB), 10_000)
    // Sent on once the last slice is handed over; what is still buffered leaves with later grants.
    expect(stream.delivered + stream.writeBufferLength).toBe(20 * MB)
    expect(stream.status).toBe('open')
    expect(stream.maxBuffered).toBeLessThanOrEqual(2 * MB)
  })

  it('fails instead of waiting forever when the stream aborts itself inside send()', async () => {
    const stream = new WindowedStream({ credit: 0, maxWriteBufferLength: MB / 2 })
    await expect(sendSlices(stream as unknown as Stream, new Uint8Array(2 * MB), 10_000)).rejects.toThrow(/stream aborted while sending/)
  })

  it('fails when the stream moves nothing on for the stall time', async () => {
    const stream = new WindowedStream({ credit: 0, maxWriteBufferLength: 64 * MB })
    await expect(sendSlices(stream as unknown as Stream, new Uint8Array(3 * MB), 50)).rejects.toThrow(/moved no data on for 50 ms/)
  })

  it('returns at once when everything fits', async () => {
    const stream = new WindowedStream({ credit: 8 * MB, maxWriteBufferLength: 64 * MB })
    await sendSlices(stream as unknown as Stream, new Uint8Array(3 * MB + 5), 10_000)
    expect(stream.delivered).toBe(3 * MB + 5)
  })
})
