import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import type { StatusView } from '../../src/node/cli/status-view.js'
import { waitFor } from '../helpers/wait.js'

// Real node processes on 127.0.0.1, formed by --bootstrap. LocalMesh's fast timers:
// vectors every 250 ms, suspect after 1.5 s of silence, dead after 3 s.
const N = 4
const SUSPECT_AFTER_MS = 1500
let mesh: LocalMesh

const statusIn = (view: StatusView, peerId: string) => view.peers.find(p => p.peerId === peerId)?.status
const others = (except: number) => mesh.nodes.map((_, i) => i).filter(i => i !== except && mesh.nodes[i]?.proc !== undefined)

async function everyoneSees (subject: number, status: string, timeoutMs = 30_000): Promise<void> {
  const peerId = mesh.nodes[subject]!.peerId
  await waitFor(`every node to see node ${subject} ${status}`, async () => {
    const views = await Promise.all(others(subject).map(async i => await mesh.status(i)))
    return views.every(v => statusIn(v, peerId) === status)
  }, timeoutMs)
}

beforeAll(async () => { mesh = await LocalMesh.start({ nodes: N }) })
afterAll(async () => { await mesh?.stop() })

describe('a mesh of real processes on 127.0.0.1', () => {
  it('forms a full mesh by --bootstrap, each node seeing every other alive with plausible vectors', async () => {
    const views = await waitFor('a full mesh', async () => {
      const vs = await Promise.all(mesh.nodes.map(async (_, i) => await mesh.status(i)))
      return vs.every(v => v.peers.filter(p => p.status === 'alive').length === N) && vs
    })
    const ids = mesh.nodes.map(n => n.peerId).sort()
    for (const [i, view] of views.entries()) {
      expect(view.self).toBe(mesh.nodes[i]!.peerId)
      expect(view.peers[0]!.peerId).toBe(view.self)
      expect(view.peers.map(p => p.peerId).sort()).toEqual(ids)
      for (const p of view.peers) {
        expect(p.addrs.some(a => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${p.peerId}`))).toBe(true)
        expect(p.cpuCores).toBeGreaterThan(0)
        expect(p.cpuLoad).toBeGreaterThanOrEqual(0)
        expect(p.cpuLoad).toBeLessThanOrEqual(1)
        expect(p.memTotal).toBeGreaterThan(p.memFree)
        expect(p.memFree).toBeGreaterThan(0)
        expect(p.diskFree).toBeGreaterThan(0)
        expect(p.slotsTotal).toBeGreaterThan(0)
        expect(p.slotsFree).toBeLessThanOrEqual(p.slotsTotal)
        expect(p.softwareVersion).toMatch(/^\d+\.\d+\.\d+/)
        expect(p.incarnation).toBeGreaterThan(0)
        expect(p.version).toBeGreaterThan(0)
      }
    }
  })

  it('a state change reaches every node (versions advance)', async () => {
    const target = mesh.nodes[1]!.peerId
    const before = (await mesh.status(0)).peers.find(p => p.peerId === target)!.version
    await waitFor('a newer vector of node 1 at node 0', async () =>
      (await mesh.status(0)).peers.find(p => p.peerId === target)!.version > before)
  })

  it('kill -9 of a node: the rest mark it dead, after suspecting it, within the configured time', async () => {
    const victim = 3
    const killedAt = Date.now()
    await mesh.kill(victim, 'SIGKILL')
    await everyoneSees(victim, 'dead')
    const elapsedMs = Date.now() - killedAt
    // Not before the detector could have fired (it was the detector, not something else), and
    // well within a generous deadline on a busy machine (the strict figure is in bench:mesh).
    expect(elapsedMs).toBeGreaterThanOrEqual(SUSPECT_AFTER_MS)
  })

  it('a restarted node is alive again with the same peer id', async () => {
    const victim = 3
    const oldId = mesh.nodes[victim]!.peerId
    await mesh.startNode(victim)
    expect(mesh.nodes[victim]!.peerId).toBe(oldId)
    await everyoneSees(victim, 'alive')
  })

  it('SIGTERM: the node announces that it leaves and the rest mark it left at once', async () => {
    const victim = 2
    await mesh.kill(victim, 'SIGTERM')
    // `left` only comes from the node's own announcement; the failure detector says `dead`.
    await everyoneSees(victim, 'left', 2500)
  })

  it('the bootstrap node restarts and the mesh reconnects to it', async () => {
    await mesh.kill(0, 'SIGKILL')
    await everyoneSees(0, 'dead')
    await mesh.startNode(0)
    await everyoneSees(0, 'alive')
    await waitFor('the restarted node 0 to see nodes 1 and 3 alive', async () => {
      const view = await mesh.status(0)
      return [1, 3].every(i => statusIn(view, mesh.nodes[i]!.peerId) === 'alive')
    })
  })
})
