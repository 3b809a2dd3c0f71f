import { createRequire } from 'node:module'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/node/net/libp2p.js'
import { MeshKeyRefusals, remoteHost } from '../../src/node/net/mesh-key-refusals.js'
import { corkingProtector } from '../../src/node/net/socket-corking.js'
import { holdsOurKey, MESH_KEY_MISMATCH_EVENT, MULTISTREAM_HEADER, pnetKeyBytes, type MeshKeyMismatch } from '../../src/security/mesh-key-check.js'
import { meshKeyProtector, newMeshKey } from '../../src/security/mesh-key.js'
import { waitFor } from '../helpers/wait.js'

const xsalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { update: (b: Uint8Array) => Uint8Array }

/** What a peer holding `key` sends first: its nonce, then multistream-select's header encrypted. */
function firstBytes (key: Uint8Array, extra = new Uint8Array(0)): Uint8Array {
  const nonce = crypto.getRandomValues(new Uint8Array(24))
  const body = new Uint8Array([...MULTISTREAM_HEADER, ...extra])
  return new Uint8Array([...nonce, ...xsalsa20(nonce, key).update(body)])
}

describe('telling a peer with another mesh key', () => {
  const ours = pnetKeyBytes(newMeshKey())
  const theirs = pnetKeyBytes(newMeshKey())

  it('reads the 32 key bytes of a key file', () => {
    expect(ours).toHaveLength(32)
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(false)
  })

  it('the same key decrypts to the multistream header; another key, garbage or too few bytes do not', () => {
    expect(holdsOurKey(firstBytes(ours, new Uint8Array([7, 7, 7])), ours)).toBe(true)
    expect(holdsOurKey(firstBytes(theirs), ours)).toBe(false)
    expect(holdsOurKey(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxxxxxxxx'), ours)).toBe(false)
    expect(holdsOurKey(firstBytes(ours).subarray(0, 43), ours)).toBeUndefined()
  })

  it('logs a host once per period, with the count of those in between, and says which way', () => {
    const lines: Array<{ obj: unknown, msg: string }> = []
    const log = { info: (obj: unknown, msg: string) => lines.push({ obj, msg }) } as never
    const refusals = new MeshKeyRefusals(log, 60_000)
    const from = (addr: string): MeshKeyMismatch => ({ remoteAddr: addr, direction: 'inbound' })
    expect(refusals.note(from('/ip4/1.2.3.4/tcp/5000'), 0)).toBe(true)
    expect(refusals.note(from('/ip4/1.2.3.4/tcp/5001'), 1000)).toBe(false)
    expect(refusals.note(from('/ip4/1.2.3.4/tcp/5002'), 2000)).toBe(false)
    expect(refusals.note(from('/ip4/5.6.7.8/tcp/1'), 2000)).toBe(true)
    expect(refusals.note(from('/ip4/1.2.3.4/tcp/5003'), 61_000)).toBe(true)
    expect(refusals.note({ remoteAddr: '/ip6/::1/tcp/9', direction: 'outbound' }, 0)).toBe(true)
    expect(lines.map(l => l.msg)).toEqual([
      "refused a connection from 1.2.3.4: it does not hold this mesh's key",
      "refused a connection from 5.6.7.8: it does not hold this mesh's key",
      "refused a connection from 1.2.3.4: it does not hold this mesh's key (2 more since last said)",
      "could not connect to ::1: it does not hold this mesh's key",
    ])
    expect(remoteHost('/dns4/example.org/tcp/1')).toBe('example.org')
  })
})

describe('real libp2p nodes', () => {
  const nodes: MeshLibp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => await n.stop())) })

  async function node (psk: Uint8Array): Promise<{ node: MeshLibp2p, mismatches: MeshKeyMismatch[] }> {
    const n = await createMeshLibp2p({
      privateKey: await generateKeyPair('Ed25519'), host: '127.0.0.1', port: 0, mdns: false, mdnsServiceTag: 't',
      connectionProtector: corkingProtector(meshKeyProtector(psk)),
    })
    nodes.push(n)
    const mismatches: MeshKeyMismatch[] = []
    ;(n as unknown as EventTarget).addEventListener(MESH_KEY_MISMATCH_EVENT, e => mismatches.push((e as CustomEvent<MeshKeyMismatch>).detail))
    return { node: n, mismatches }
  }

  it('with the same key they connect and nothing is reported', async () => {
    const psk = newMeshKey()
    const a = await node(psk)
    const b = await node(psk)
    for (let i = 0; i < 5; i++) {
      const conn = await a.node.dial(b.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
      expect(conn.status).toBe('open')
      await conn.close()
    }
    expect(a.mismatches).toEqual([])
    expect(b.mismatches).toEqual([])
  })

  it('with another key the dial fails and the dialled node reports it, naming the address', async () => {
    const a = await node(newMeshKey())
    const b = await node(newMeshKey())
    await expect(a.node.dial(b.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    const seen = await waitFor('the dialled node to report the mesh key mismatch', () => b.mismatches[0], 10_000)
    expect(seen.direction).toBe('inbound')
    expect(seen.remoteAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  })
})
