// The LengthPrefixedDecoder patch on the library's real class: frames decode as before, in any
// split of the byte stream, and the length decoder is no longer asked about an empty buffer
// (where it throws, which is what cost a thrown exception per chunk read).
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { patchLengthPrefixedDecoder } from '../../src/node/net/length-prefix-patch.js'

/** noise's decoder: a 2-byte big-endian length, RangeError when fewer than 2 bytes are buffered. */
type LengthDecoder = NonNullable<NonNullable<ConstructorParameters<typeof LengthPrefixedDecoder>[0]>['lengthDecoder']>

function uint16Counting (counts: { empty: number, calls: number }): LengthDecoder {
  return data => {
    counts.calls++
    if (data.byteLength === 0) counts.empty++
    if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
    return data instanceof Uint8Array ? (data[0]! << 8) + data[1]! : data.getUint16(0)
  }
}

function frames (...payloads: number[][]): Uint8Array {
  return Uint8Array.from(payloads.flatMap(p => [p.length >> 8, p.length & 255, ...p]))
}

function decodeAll (decoder: LengthPrefixedDecoder, chunks: Uint8Array[]): number[][] {
  const out: number[][] = []
  for (const chunk of chunks) for (const frame of decoder.decode(chunk)) out.push([...frame.subarray()])
  return out
}

describe('length-prefixed decoder patch', () => {
  const payloads = [[1, 2, 3], [], [4], Array.from({ length: 300 }, (_, i) => i & 255)]
  const bytes = frames(...payloads)
  const nonEmpty = payloads.filter(p => p.length > 0) // the library drops empty frames

  it('unpatched, the library asks its length decoder about an empty buffer after every chunk', () => {
    // Run before the patch is applied (vitest isolates test files, and this one applies it below).
    const counts = { empty: 0, calls: 0 }
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16Counting(counts), encodingLength: () => 2 })
    expect(decodeAll(decoder, [bytes, bytes])).toEqual([...nonEmpty, ...nonEmpty])
    expect(counts.empty).toBe(2)
  })

  it('patched, decodes the same frames in any split without asking about an empty buffer', () => {
    patchLengthPrefixedDecoder()
    patchLengthPrefixedDecoder() // idempotent
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const counts = { empty: 0, calls: 0 }
      const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16Counting(counts), encodingLength: () => 2 })
      const chunks: Uint8Array[] = []
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size))
      expect(decodeAll(decoder, chunks)).toEqual(nonEmpty)
      expect(counts.empty).toBe(0)
      expect(counts.calls).toBeGreaterThan(0)
    }
  })

  it('leaves alone a decoder whose length prefix can be 0 bytes long (its loop would never end)', () => {
    patchLengthPrefixedDecoder()
    const counts = { empty: 0, calls: 0 }
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16Counting(counts), encodingLength: n => n === 0 ? 0 : 2 })
    // (No empty frame here: that one would send the library's own loop round for ever.)
    expect(decodeAll(decoder, [frames(...nonEmpty)])).toEqual(nonEmpty)
    expect(counts.empty).toBe(1)
  })
})
