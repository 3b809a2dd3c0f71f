import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { meshKeyProtector, newMeshKey } from '../../src/security/mesh-key.js'
import { patchPnetCipher } from '../../src/node/net/pnet-patch.js'

// The cipher under @libp2p/pnet (xsalsa20 1.2, WebAssembly) shares one memory between all
// instances; a grown memory detaches the others' views and each of their updates grew it again,
// until "Maximum memory size exceeded" killed the node. See src/node/net/pnet-patch.ts.

type Cipher = { update: (input: Uint8Array) => Uint8Array }
const XSalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher

describe('the pnet cipher fix', () => {
  it('two busy connections moving 1 MiB updates for 800 MiB no longer exhaust the cipher memory', () => {
    patchPnetCipher()
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const a = XSalsa20(nonce, key)
    const b = XSalsa20(nonce, key)
    const buf = new Uint8Array(1024 * 1024)
    expect(() => { for (let i = 0; i < 400; i++) { a.update(buf); b.update(buf) } }).not.toThrow()
  })

  it('slicing keeps the stream: one 5 MiB update equals the same bytes fed in odd pieces, and decrypts back', () => {
    patchPnetCipher()
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const data = randomBytes(5 * 1024 * 1024 + 77)
    const whole = Buffer.from(XSalsa20(nonce, key).update(data))
    const pieces = XSalsa20(nonce, key)
    const cuts = [0, 1, 64, 1000, 1024 * 1024 + 3, 3 * 1024 * 1024, data.length]
    const parts = cuts.slice(1).map((end, i) => Buffer.from(pieces.update(data.subarray(cuts[i], end))))
    expect(Buffer.concat(parts).equals(whole)).toBe(true)
    expect(Buffer.from(XSalsa20(nonce, key).update(whole)).equals(data)).toBe(true)
    // A 100 MiB update (over the cipher's whole memory) works too.
    expect(XSalsa20(nonce, key).update(new Uint8Array(100 * 1024 * 1024)).length).toBe(100 * 1024 * 1024)
  })

  it('meshKeyProtector applies the fix and returns a pnet protector', () => {
    expect(typeof meshKeyProtector(newMeshKey())).toBe('function')
  })
})
