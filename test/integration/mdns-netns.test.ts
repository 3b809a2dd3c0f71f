import type { ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { StatusView } from '../../src/node/cli/status-view.js'
import { API_TOKEN_FILE } from '../../src/security/api-token.js'
import { createMeshKeyFile } from '../../src/security/mesh-key.js'
import { createNetwork, execIn, httpGetIn, killGroup, removeStaleNetworks, sleep, spawnIn, uniquePrefix, type Network, type NetnsHost } from '../helpers/netns.js'

// Discovery by mDNS for real, without multicast leaving the machine: four network namespaces
// on one private bridge, one `meshwork start` per namespace, no --bootstrap. Three share an
// mDNS tag and must find each other; the fourth uses another tag and must stay alone.
// Needs root and iproute2: without them the test fails (it does not skip).

const TOKEN = 'netns-test-token-0123456789'
const BIN = fileURLToPath(new URL('../../bin/meshwork.js', import.meta.url))
const PORT = 7071
const TAG = `mw-test-${process.pid}`
const OTHER_TAG = `mw-other-${process.pid}`
const CONVERGE_DEADLINE_MS = 60_000
const POLL_MS = 500
/** After the three converge, keep watching this long: the outsider must still be unseen. */
const HOLD_MS = 3000

interface NetNode {
  host: NetnsHost
  tag: string
  dataDir: string
  proc: ChildProcess
  exited: Promise<void>
  apiUrl?: string
  peerId?: string
}

const nodes: NetNode[] = []
let net: Network | undefined
let baseDir: string | undefined

async function cleanup (): Promise<void> {
  const procs = nodes.splice(0)
  for (const n of procs) killGroup(n.proc.pid)
  await Promise.all(procs.map(async n => await Promise.race([n.exited, sleep(5000)])))
  const network = net
  net = undefined
  try {
    await network?.destroy()
  } finally {
    if (baseDir !== undefined && process.env.MESHWORK_KEEP_MESH_DIR === undefined) rmSync(baseDir, { recursive: true, force: true })
    baseDir = undefined
  }
}

afterAll(cleanup)

function startNode (host: NetnsHost, tag: string, dir: string): NetNode {
  const dataDir = join(dir, `n${host.index}`)
  mkdirSync(dataDir, { recursive: true })
  // One mesh key for every node of the test (the mDNS tag, not the key, keeps the outsider apart).
  const meshKey = join(dir, 'mesh.key')
  if (!existsSync(meshKey)) createMeshKeyFile(meshKey)
  writeFileSync(join(dataDir, API_TOKEN_FILE), TOKEN, { mode: 0o600 })
  const out = openSync(join(dataDir, 'node.log'), 'a')
  const args = [
    BIN, 'start', '--data-dir', dataDir, '--mesh-key', meshKey, '--host', host.ip, '--port', String(PORT), '--api-port', '0',
    '--mdns-tag', tag, '--publish-interval-ms', '250', '--suspect-after-ms', '1500', '--dead-after-ms', '3000',
    '--log-level', 'info',
  ]
  // `node` directly (never npx), in its own process group, inside the namespace.
  const proc = spawnIn(host.ns, process.execPath, args, { stdio: ['ignore', out, out] })
  closeSync(out)
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
  const node: NetNode = { host, tag, dataDir, proc, exited }
  nodes.push(node)
  return node
}

async function waitReady (node: NetNode, deadline: number): Promise<void> {
  const record = join(node.dataDir, 'api.json')
  while (Date.now() < deadline) {
    if (node.proc.exitCode !== null || node.proc.signalCode !== null) {
      throw new Error(`node in ${node.host.ns} exited (${node.proc.exitCode ?? node.proc.signalCode}) before it was ready:\n${logTail(node)}`)
    }
    if (existsSync(record)) {
      try {
        const { url, pid, peerId } = JSON.parse(readFileSync(record, 'utf8')) as { url: string, pid: number, peerId: string }
        if (pid === node.proc.pid) {
          Object.assign(node, { apiUrl: url, peerId })
          return
        }
      } catch { /* being written */ }
    }
    await sleep(50)
  }
  throw new Error(`node in ${node.host.ns} not ready in time:\n${logTail(node)}`)
}

async function statusOf (node: NetNode): Promise<StatusView | undefined> {
  try {
    return JSON.parse(await httpGetIn(node.host.ns, `${node.apiUrl}/status`, 3000, { authorization: `Bearer ${TOKEN}` })) as StatusView
  } catch {
    return undefined
  }
}

function logTail (node: NetNode, lines = 15): string {
  try {
    return readFileSync(join(node.dataDir, 'node.log'), 'utf8').trimEnd().split('\n').slice(-lines).map(l => `    ${l}`).join('\n')
  } catch {
    return '    (no log)'
  }
}

function describeViews (views: Array<StatusView | undefined>): string {
  return nodes.map((n, i) => {
    const v = views[i]
    const peers = v === undefined ? 'no answer' : v.peers.map(p => `${p.peerId.slice(-6)}:${p.status}`).join(' ')
    return `  ${n.host.ns} ${n.host.ip} tag=${n.tag} id=…${n.peerId?.slice(-6)}: ${peers}\n${logTail(n, 6)}`
  }).join('\n')
}

describe('mDNS discovery across network namespaces', () => {
  it('three nodes on one bridge find each other by mDNS alone; a node with another tag is not found', async () => {
    try {
      const stale = await removeStaleNetworks('mw')
      if (stale.length > 0) console.log(`removed leftover namespaces: ${stale.join(', ')}`)
      baseDir = mkdtempSync(join(tmpdir(), 'meshwork-netns-'))
      const t0 = Date.now()
      // Throws NetnsUnavailableError (not root / no iproute2): the test fails with that message.
      net = await createNetwork(uniquePrefix('mw'), 4)
      const tNet = Date.now()
      const [a, b, c, d] = net.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost]

      // The three with the shared tag and the outsider start together: the same window for all.
      const dir = baseDir
      const members = [a, b, c].map(h => startNode(h, TAG, dir))
      const outsider = startNode(d, OTHER_TAG, dir)
      const readyBy = Date.now() + 60_000
      await Promise.all(nodes.map(async n => await waitReady(n, readyBy)))
      const tReady = Date.now()

      const memberIds = members.map(n => n.peerId as string)
      const outsiderId = outsider.peerId as string
      expect(new Set([...memberIds, outsiderId]).size).toBe(4)

      let views: Array<StatusView | undefined> = []
      const poll = async (): Promise<void> => { views = await Promise.all(nodes.map(statusOf)) }
      const memberViews = (): Array<StatusView | undefined> => views.slice(0, 3)
      const outsiderView = (): StatusView | undefined => views[3]
      const converged = (): boolean => memberViews().every(v =>
        v !== undefined && memberIds.every(id => v.peers.some(p => p.peerId === id && p.status === 'alive')))
      /** The outsider must never appear in a member's view, nor a member in the outsider's, at any poll. */
      const checkSeparated = (): void => {
        memberViews().forEach((v, i) => {
          expect(v?.peers.map(p => p.peerId) ?? [], `${members[i]?.host.ns} sees the outsider`).not.toContain(outsiderId)
        })
        const ov = outsiderView()
        if (ov !== undefined) expect(ov.peers.map(p => p.peerId), 'the outsider sees others').toEqual([outsiderId])
      }

      const deadline = Date.now() + CONVERGE_DEADLINE_MS
      for (;;) {
        await poll()
        checkSeparated()
        if (converged()) break
        if (Date.now() > deadline) throw new Error(`no convergence within ${CONVERGE_DEADLINE_MS} ms:\n${describeViews(views)}`)
        await sleep(POLL_MS)
      }
      const tConverged = Date.now()

      // Every node sees all three alive, and learned each other's namespace address.
      for (const v of memberViews()) {
        const alive = v?.peers.filter(p => p.status === 'alive').map(p => p.peerId).sort()
        expect(alive).toEqual([...memberIds].sort())
        for (const m of members) {
          const addrs = v?.peers.find(p => p.peerId === m.peerId)?.addrs ?? []
          expect(addrs.some(x => x.startsWith(`/ip4/${m.host.ip}/tcp/${PORT}`)), `addrs of ${m.host.ns}: ${addrs.join(' ')}`).toBe(true)
        }
      }
      // The negative, in the same window: checked at every poll above, and right now.
      expect(outsiderView(), 'the outsider answers its control API').toBeDefined()
      checkSeparated()

      // The outsider is not cut off by the network: it reaches every member's p2p port over the
      // bridge. It is absent only because its mDNS tag differs.
      const probe = 'const net = require("node:net"); let left = process.argv.length - 1;' +
        'for (const ip of process.argv.slice(1)) { const s = net.connect(' + PORT + ', ip); s.setTimeout(3000, () => { console.error("timeout " + ip); process.exit(1) });' +
        's.on("connect", () => { s.destroy(); if (--left === 0) process.exit(0) }); s.on("error", e => { console.error(ip + ": " + e.message); process.exit(1) }) }'
      await execIn(d.ns, process.execPath, ['-e', probe, a.ip, b.ip, c.ip])

      // Hold a few mDNS intervals (1 s each) longer: still separated, still converged.
      const holdUntil = Date.now() + HOLD_MS
      while (Date.now() < holdUntil) {
        await sleep(POLL_MS)
        await poll()
        checkSeparated()
      }
      expect(converged(), `members fell apart while holding:\n${describeViews(views)}`).toBe(true)

      console.log(`mdns-netns: subnet ${net.subnet}; network ${tNet - t0} ms, nodes ready ${tReady - tNet} ms, ` +
        `all three alive in every view ${tConverged - tReady} ms after ready, outsider unseen throughout (+${HOLD_MS} ms hold)`)
    } finally {
      await cleanup()
    }
  })
})
