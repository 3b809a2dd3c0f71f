import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MEMBERSHIP_TOPIC, encodeGossip } from '../../src/gossip/messages.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/node/net/libp2p.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { meshKeyProtector, readMeshKeyFile } from '../../src/security/mesh-key.js'
import { vector } from '../helpers/vectors.js'
import { waitFor } from '../helpers/wait.js'

let mesh: LocalMesh
let rogue: MeshLibp2p | undefined
let keyless: MeshLibp2p | undefined

const log = (i: number): string => readFileSync(join(mesh.nodes[i]!.dataDir, 'node.log'), 'utf8')

beforeAll(async () => { mesh = await LocalMesh.start({ nodes: 2 }) })
afterAll(async () => {
  await keyless?.stop()
  await rogue?.stop()
  await mesh?.stop()
})

describe('a peer without the mesh key', () => {
  it('cannot connect at all', async () => {
    keyless = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), host: '127.0.0.1', port: 0, mdns: false, mdnsServiceTag: 'x' })
    await expect(keyless.dial(multiaddr(mesh.bootstrapAddr()), { signal: AbortSignal.timeout(20_000) })).rejects.toThrow()
    const view = await mesh.status(0)
    expect(view.peers.map(p => p.peerId)).not.toContain(keyless.peerId.toString())
    expect(mesh.nodes[0]!.proc?.exitCode).toBeNull()
  })
})

describe('bad gossip from a peer inside the mesh (it holds the key) is logged and dropped', () => {
  it('garbage, oversized and forged vectors never crash a node or change its view', async () => {
    const connectionProtector = meshKeyProtector(readMeshKeyFile(mesh.meshKeyFile!))
    rogue = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), host: '127.0.0.1', port: 0, mdns: false, mdnsServiceTag: 'x', connectionProtector })
    rogue.services.pubsub.subscribe(MEMBERSHIP_TOPIC)
    await rogue.dial(multiaddr(mesh.bootstrapAddr()))
    await waitFor('the rogue to join the gossip mesh', () =>
      rogue!.services.pubsub.getSubscribers(MEMBERSHIP_TOPIC).some(p => p.toString() === mesh.nodes[0]!.peerId))
    const victimId = mesh.nodes[1]!.peerId
    // The forged vector must be judged against a view that already holds the real one.
    await waitFor('node 0 to see node 1 alive', async () =>
      (await mesh.status(0)).peers.some(p => p.peerId === victimId && p.status === 'alive'))
    const send = async (data: Uint8Array): Promise<void> => { await rogue!.services.pubsub.publish(MEMBERSHIP_TOPIC, data) }

    await send(new TextEncoder().encode('this is not json'))
    await send(new TextEncoder().encode(JSON.stringify({ t: 'vector', v: { peerId: 'x' } })))
    await send(encodeGossip({ t: 'vector', v: vector('junk', { cpuLoad: 0.5 }) }).slice(0, 40))
    await send(new TextEncoder().encode(JSON.stringify({ t: 'vector', pad: 'x'.repeat(100 * 1024) })))
    // Speaking in another peer's name: a vector for node 1, signed by the rogue.
    await send(encodeGossip({ t: 'vector', v: vector(victimId, { incarnation: Number.MAX_SAFE_INTEGER, cpuLoad: 0.999 }) }))

    await waitFor('node 0 to log five dropped messages', () => (log(0).match(/dropped gossip message/g) ?? []).length >= 5)
    const text = log(0)
    expect(text).toMatch(/not UTF-8 JSON/)
    expect(text).toMatch(/exceeds 65536/)
    expect(text).toMatch(new RegExp(`claims peer ${victimId} but was signed by ${rogue.peerId.toString()}`))
    const view = await mesh.status(0)
    const victim = view.peers.find(p => p.peerId === victimId)!
    expect(victim.incarnation).toBeLessThan(Number.MAX_SAFE_INTEGER)
    expect(view.peers.map(p => p.peerId)).not.toContain(rogue.peerId.toString())
    expect(view.peers.map(p => p.peerId)).not.toContain('junk')
    expect(mesh.nodes[0]!.proc?.exitCode).toBeNull()
  })
})

describe('garbage on the control API', () => {
  it('answers with clear errors and keeps serving', async () => {
    const api = mesh.nodes[0]!.apiUrl
    const auth = mesh.authHeaders()
    const notFound = await fetch(`${api}/nope`, { headers: auth })
    expect(notFound.status).toBe(404)
    expect(await notFound.json()).toEqual({ error: 'No route GET /nope' })
    const wrongMethod = await fetch(`${api}/status`, { method: 'POST', body: '{{{{', headers: { ...auth, 'content-type': 'application/json' } })
    expect(wrongMethod.status).toBe(404)
    // Not HTTP at all, straight on the socket.
    const port = Number(new URL(api).port)
    const answer = await new Promise<string>(resolve => {
      let text = ''
      const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])))
      socket.setEncoding('utf8')
      socket.on('data', d => { text += d }) // the node answers (then closes): read it
      socket.on('close', () => resolve(text))
      socket.on('error', () => resolve(text))
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request[\s\S]*\{"error":"malformed HTTP request"\}$/)
    const ok = await fetch(`${api}/status`, { headers: auth })
    expect(ok.status).toBe(200)
    expect((await ok.json() as { self: string }).self).toBe(mesh.nodes[0]!.peerId)
  })
})
