import { describe, expect, it } from 'vitest'
import { gossipCopyId } from '../../src/node/net/libp2p.js'

const b = (s: string) => new TextEncoder().encode(s)

describe('gossipCopyId (gossipsub fastMsgIdFn)', () => {
  it('gives copies of one message one id, and any change of origin, seqno or data another', () => {
    const msg = { from: b('peerA'), seqno: b('00000001'), data: b('{"t":"vector"}') }
    const id = gossipCopyId(msg)
    expect(gossipCopyId({ ...msg, from: b('peerA'), data: b('{"t":"vector"}') })).toBe(id)
    expect(new Set([
      id,
      gossipCopyId({ ...msg, from: b('peerB') }),
      gossipCopyId({ ...msg, seqno: b('00000002') }),
      gossipCopyId({ ...msg, data: b('{"t":"vectoR"}') }),
      // field boundaries count: moving a byte from one field to the next is another message
      gossipCopyId({ from: b('peerA0'), seqno: b('0000001'), data: msg.data }),
      gossipCopyId({ seqno: msg.seqno, data: msg.data }),
    ]).size).toBe(6)
  })
})
