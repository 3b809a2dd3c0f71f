import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '../../src/index.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { submitJson } from '../helpers/cli.js'

// Master-slave with the same binary: `--election fixed:<peer>` makes one node coordinate every
// job; and the programmatic API (`connect`, `mesh.submit`) against a real mesh.

const primes = join(import.meta.dirname, '..', '..', 'examples', 'primes.mjs')
let mesh: LocalMesh
let master = ''

beforeAll(async () => {
  // Node 0 starts first; the others name it as the fixed coordinator.
  mesh = new LocalMesh({ nodes: 3, args: i => (i === 0 ? [] : ['--election', `fixed:${mesh.nodes[0]!.peerId}`]) })
  await mesh.startNode(0)
  await Promise.all([mesh.startNode(1), mesh.startNode(2)])
  master = mesh.nodes[0]!.peerId
  await waitForFullMesh(mesh, 3, 60_000)
})
afterAll(async () => { await mesh?.stop() })

describe('--election fixed:<peer> (master-slave)', () => {
  it('every job submitted on the other nodes is coordinated by the master, and the work is still spread', async () => {
    for (let i = 0; i < 6; i++) {
      const out = await submitJson(mesh.nodes[1 + (i % 2)]!.apiUrl, [primes, '--input-json', '{"from":0,"to":20000}', '--parts', '6'])
      expect(out.coordinator).toBe(master)
      expect(out.result).toBe(2262)
    }
  })

  it('a bad election spec is a clear usage error', async () => {
    const { runCli } = await import('../helpers/cli.js')
    const r = await runCli(['start', '--election', 'boss', '--api-port', '0', '--port', '0', '--no-mdns', '--data-dir', join(mesh.baseDir, 'bad')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--election: Unknown election strategy "boss"/)
  })
})

describe('the programmatic API', () => {
  it("connect() and mesh.submit() run a job and return the submit --json shape", async () => {
    const client = await connect({ api: mesh.nodes[2]!.apiUrl })
    const progress: number[] = []
    const out = await client.submit(primes, { from: 0, to: 20000 }, { parts: 5, onProgress: r => progress.push(r.done) })
    expect(out.result).toBe(2262)
    expect(out.tasks).toBe(5)
    expect(Object.values(out.tasksByPeer).reduce((a, b) => a + b, 0)).toBe(5)
    expect(progress.length).toBeGreaterThan(0)
    expect((await client.status()).peers).toHaveLength(3)
  })

  it('connect() to nothing fails with a clear message', async () => {
    await expect(connect({ api: 'http://127.0.0.1:9' })).rejects.toThrow(/Cannot reach the node at http:\/\/127.0.0.1:9/)
  })
})
