// The yamux window-update patch on the library's real stream class: an established stream answers
// received data with a window update only once less than half of its receive window is left.
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { patchYamuxWindowUpdates } from '../../src/node/net/yamux-window.js'

const WINDOW = 256 * 1024
/** Yamux frame types (the spec's numbers; the package does not export its enum). */
const FrameType = { Data: 0, WindowUpdate: 1 } as const

function makeStream (state: StreamState): { stream: YamuxStream, updates: number[] } {
  const updates: number[] = []
  const log = Object.assign(() => {}, { trace () {}, error () {}, enabled: false, newScope () { return log } })
  const stream = new YamuxStream({
    id: '1', streamId: 1, direction: 'inbound', state, log, getRTT: () => -1,
    sendFrame: (header: { type: number, length: number }) => { if (header.type === FrameType.WindowUpdate) updates.push(header.length); return true },
  } as unknown as ConstructorParameters<typeof YamuxStream>[0])
  return { stream, updates }
}

function receive (stream: YamuxStream, bytes: number): void {
  const frame = { header: { type: FrameType.Data, flag: 0, streamID: 1, length: bytes }, data: new Uint8ArrayList(new Uint8Array(bytes)) }
  ;(stream as unknown as { handleData: (f: typeof frame) => void }).handleData(frame)
}

describe('yamux window updates', () => {
  // Runs first, before this file patches the class (each test file has its own module instances).
  it('unpatched, the library answers every data frame with an update (why the patch exists)', () => {
    const { stream, updates } = makeStream(StreamState.Established)
    for (let i = 0; i < 10; i++) receive(stream, 500)
    expect(updates).toEqual(Array(10).fill(500))
  })

  it('patched: no update while at least half the window is left; then one that restores the whole window', () => {
    patchYamuxWindowUpdates()
    patchYamuxWindowUpdates() // idempotent
    const { stream, updates } = makeStream(StreamState.Established)
    const frames = Math.floor(WINDOW / 2 / 1000)
    for (let i = 0; i < frames; i++) receive(stream, 1000)
    expect(updates).toEqual([])
    receive(stream, 1000) // now below half
    expect(updates).toEqual([(frames + 1) * 1000])
    receive(stream, 1000)
    expect(updates).toHaveLength(1)
  })

  it('patched: a stream still opening sends its ACK update at once', () => {
    patchYamuxWindowUpdates()
    const { stream, updates } = makeStream(StreamState.SYNReceived)
    receive(stream, 10)
    expect(updates).toEqual([10])
  })
})
