import { MeshworkError } from '../../../util/errors.js'
// Length-prefixed frames (4-byte big-endian length, then the payload) for the peer-to-peer
// RPC streams. The decoder is incremental: chunks arrive in any split and every complete
// frame in a chunk is returned at once, without a promise per frame.

export const FRAME_HEADER_BYTES = 4

export class FrameTooLargeError extends MeshworkError {
  readonly code = 'frame-too-large'
}

export function encodeFrames (payloads: Uint8Array[]): Buffer {
  let size = 0
  for (const p of payloads) size += FRAME_HEADER_BYTES + p.byteLength
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const p of payloads) {
    out.writeUInt32BE(p.byteLength, at)
    out.set(p, at + FRAME_HEADER_BYTES)
    at += FRAME_HEADER_BYTES + p.byteLength
  }
  return out
}

export class FrameDecoder {
  private chunks: Buffer[] = []
  private buffered = 0

  constructor (private readonly frameBytesMax: number) {}

  /** Feed a chunk; returns the payloads of every frame it completed. Throws FrameTooLargeError. */
  push (chunk: Uint8Array): Buffer[] {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    this.buffered += chunk.byteLength
    const frames: Buffer[] = []
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const length = this.readLength()
      if (length > this.frameBytesMax) throw new FrameTooLargeError(`frame of ${length} bytes exceeds ${this.frameBytesMax}`)
      if (this.buffered < FRAME_HEADER_BYTES + length) break
      const all = this.take(FRAME_HEADER_BYTES + length)
      frames.push(all.subarray(FRAME_HEADER_BYTES))
    }
    return frames
  }

  /** The next frame's length, read across chunk boundaries without joining the chunks. */
  private readLength (): number {
    const first = this.chunks[0] as Buffer
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0)
    const head = Buffer.alloc(FRAME_HEADER_BYTES)
    let at = 0
    for (const c of this.chunks) {
      at += c.copy(head, at, 0, Math.min(c.length, FRAME_HEADER_BYTES - at))
      if (at === FRAME_HEADER_BYTES) break
    }
    return head.readUInt32BE(0)
  }

  /** Remove the first n bytes (joining chunks only once a whole frame is here). */
  private take (n: number): Buffer {
    const first = this.chunks[0] as Buffer
    const joined = first.length >= n ? first : Buffer.concat(this.chunks)
    const out = joined.subarray(0, n)
    const rest = joined.subarray(n)
    const tail = joined === first ? this.chunks.slice(1) : []
    this.chunks = rest.length > 0 ? [rest, ...tail] : tail
    this.buffered -= n
    return out
  }
}
