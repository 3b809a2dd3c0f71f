import '../src/polyfill.js'
import { cpus } from 'node:os'
import { LocalMesh } from '../src/node/testing/local-mesh.js'
import type { StatusView } from '../src/node/cli/status-view.js'
import { spread } from './stats.js'

// npm run bench:mesh [-- --sizes 3,5,8 --runs 3]
// For each mesh size: time to full discovery, time for a vector update to reach every node,
// time for a leave (SIGTERM) to reach every node, and time to detect a kill -9 — with the
// default LAN timers (vectors every 1 s, suspect after 2.5 s, dead after 4.5 s).

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback
}
const sizes = arg('sizes', '3,5,8').split(',').map(Number)
const runs = Number(arg('runs', '3'))

async function until<T> (probe: () => Promise<T | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== false) return v
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

const views = async (mesh: LocalMesh, skip = -1): Promise<StatusView[]> =>
  await Promise.all(mesh.nodes.filter((n, i) => i !== skip && n.proc !== undefined).map(async n => await mesh.status(n.index)))

interface RunResult { discoveryMs: number, propagationMs: number, leaveMs: number, detectMs: number }

async function oneRun (n: number): Promise<RunResult> {
  const t0 = Date.now()
  const mesh = await LocalMesh.start({ nodes: n, fastTimers: false, logLevel: 'warn' })
  try {
    await until(async () => (await views(mesh)).every(v => v.peers.filter(p => p.status === 'alive').length === n))
    const discoveryMs = Date.now() - t0

    const subject = mesh.nodes[0]!.peerId
    const own = (await mesh.status(0)).peers[0]!.version
    const next = own + 1
    await until(async () => (await mesh.status(0)).peers[0]!.version >= next)
    const publishedAt = Date.now()
    await until(async () => (await views(mesh, 0)).every(v => (v.peers.find(p => p.peerId === subject)?.version ?? 0) >= next))
    const propagationMs = Date.now() - publishedAt

    const leaver = n - 1
    const leaverId = mesh.nodes[leaver]!.peerId
    const leaveAt = Date.now()
    mesh.signal(leaver, 'SIGTERM')
    await until(async () => (await views(mesh, leaver)).every(v => v.peers.find(p => p.peerId === leaverId)?.status === 'left'))
    const leaveMs = Date.now() - leaveAt
    await mesh.kill(leaver, 'SIGTERM')

    const victim = n - 2
    const victimId = mesh.nodes[victim]!.peerId
    const killAt = Date.now()
    await mesh.kill(victim, 'SIGKILL')
    await until(async () => (await views(mesh, victim)).every(v => v.peers.find(p => p.peerId === victimId)?.status === 'dead'))
    const detectMs = Date.now() - killAt
    return { discoveryMs, propagationMs, leaveMs, detectMs }
  } finally {
    await mesh.stop()
  }
}

const rows: string[] = []
for (const n of sizes) {
  const results: RunResult[] = []
  for (let r = 0; r < runs; r++) results.push(await oneRun(n))
  const col = (k: keyof RunResult): string => spread(results.map(x => x[k]))
  rows.push(`| ${n} | ${col('discoveryMs')} | ${col('propagationMs')} | ${col('leaveMs')} | ${col('detectMs')} |`)
  process.stderr.write(`N=${n} done\n`)
}
process.stdout.write([
  `Mesh benchmark — ${runs} runs per size, median (min–max) in ms; Node ${process.version}, ${cpus().length} cores.`,
  'Default timers: vectors every 1000 ms (at once on change), suspect after 2500 ms, dead after 4500 ms of silence.',
  '',
  '| nodes | start to full discovery | vector update reaches all | leave (SIGTERM) reaches all | kill -9 detected dead by all |',
  '|---:|---:|---:|---:|---:|',
  ...rows,
  '',
].join('\n'))
