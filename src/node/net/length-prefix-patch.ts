import { LengthPrefixedDecoder } from '@libp2p/utils'

// @libp2p/utils' LengthPrefixedDecoder, which noise uses to cut the TCP byte stream into
// frames, asks its length decoder for the next length after every frame it yields, and learns
// that the buffer ran out by catching the RangeError the decoder throws on an empty buffer.
// Every chunk read from a connection thus ended in a thrown exception (stack trace included):
// about 5 µs per chunk on this machine (a microbenchmark of the class, 100,000 chunks:
// 4.8–5.7 µs per complete 200-byte frame, 0.3–0.6 µs with this patch), and under the
// empty-task benchmark the largest single item in a worker's profile (noise's uint16BEDecode).
// An empty buffer holds no frame, so the patched decoder returns length 0 for it; the library's
// loop then sees less data than a frame needs and stops, as before, without the exception.

/** What the decoder buffers: a Uint8Array or a Uint8ArrayList (both have byteLength). */
type Buffered = Uint8Array | { byteLength: number }
type LengthDecoder = ((data: Buffered) => number) & { __meshworkEmptyCheck?: true }

interface DecoderState {
  lengthDecoder: LengthDecoder
  encodingLength: (length: number) => number
}

interface PatchedProto {
  decode: (this: DecoderState, buf: Buffered) => Generator<unknown, void, unknown>
  __meshworkEmptyCheck?: true
}

export function patchLengthPrefixedDecoder (): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as PatchedProto
  if (proto.__meshworkEmptyCheck === true) return
  const decode = proto.decode
  proto.decode = function (this: DecoderState, buf) {
    const inner = this.lengthDecoder
    // A length prefix of 0 bytes would let the library's loop yield nothing for ever: left alone.
    if (inner.__meshworkEmptyCheck !== true && this.encodingLength(0) > 0) {
      const checked: LengthDecoder = data => data.byteLength === 0 ? 0 : inner(data)
      checked.__meshworkEmptyCheck = true
      this.lengthDecoder = checked
    }
    return decode.call(this, buf)
  }
  proto.__meshworkEmptyCheck = true
}
