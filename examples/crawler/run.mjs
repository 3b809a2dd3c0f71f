// The crawler example in one command: starts PostgreSQL (a temp dir, a free port), the generated
// site and a local mesh of real nodes (--allow-network), crawls the site with crawl.mjs, prints
// the pages stored per node and the wall time, and removes everything again — also on failure
// and on Ctrl-C.
//   node examples/crawler/run.mjs [--pages 3000] [--seed 1] [--nodes 3] [--slots 2]
// Needs a build (npm install runs it) and PostgreSQL's server binaries (apt-get install postgresql).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startPostgres } from './postgres.mjs'
import { serveSite } from './site.mjs'

const root = join(import.meta.dirname, '..', '..')
const dist = join(root, 'dist', 'src')

const { values: opts } = parseArgs({
  options: {
    pages: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    slots: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (opts.help) {
  process.stdout.write('usage: node examples/crawler/run.mjs [--pages 3000] [--seed 1] [--nodes 3] [--slots 2]\n')
  process.exit(0)
}
const num = (name) => {
  const n = Number(opts[name])
  if (!Number.isInteger(n) || n < 1) { process.stderr.write(`--${name} must be a positive integer\n`); process.exit(2) }
  return n
}
const pages = num('pages'); const seed = num('seed'); const nodes = num('nodes'); const slots = num('slots')

if (!existsSync(join(dist, 'index.js'))) {
  process.stderr.write('Meshwork is not built yet: run `npm install` (or `npm run build`) first.\n')
  process.exit(1)
}
await import(join(dist, 'polyfill.js'))
const { LocalMesh, waitForFullMesh } = await import(join(dist, 'node', 'testing', 'local-mesh.js'))
const { connect } = await import(join(dist, 'index.js'))

// Everything started is stopped in reverse order, once, whatever happens.
const cleanups = []
let cleaning
let signalled = false
const cleanup = () => (cleaning ??= (async () => {
  for (const fn of cleanups.reverse()) await fn().catch(err => process.stderr.write(`cleanup: ${err.message}\n`))
})())
const onSignal = (signal) => {
  signalled = true
  process.stderr.write(`\n${signal}: stopping …\n`)
  void cleanup().then(() => process.exit(130))
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)

const t0 = Date.now()
const say = (line) => process.stdout.write(`${line}\n`)
try {
  const db = await startPostgres()
  cleanups.push(db.stop)
  say(`PostgreSQL on 127.0.0.1:${db.port}`)
  const site = await serveSite({ pages, seed })
  cleanups.push(site.close)
  say(`site: ${pages} generated pages on ${site.origin}/`)
  say(`starting a local mesh of ${nodes} nodes (--allow-network, ${slots} slots each) …`)
  // Registered before the first node starts, so a Ctrl-C meanwhile stops those already running.
  const mesh = new LocalMesh({ nodes, logLevel: 'warn', args: ['--allow-network', '--slots', String(slots), '--task-timeout-ms', '600000'] })
  cleanups.push(() => mesh.stop())
  await mesh.startNode(0)
  await Promise.all(Array.from({ length: nodes - 1 }, (_, i) => mesh.startNode(i + 1)))
  await waitForFullMesh(mesh, nodes, 60_000)
  const label = new Map(mesh.nodes.map((n, i) => [n.peerId, `node ${i} (${n.peerId.slice(-8)})`]))

  const client = await connect({ api: mesh.nodes[0].apiUrl, token: mesh.token })
  const workers = nodes * slots
  const input = { start: `${site.origin}/`, db: db.config, schema: 'crawl' }
  say(`crawling with ${workers} workers …`)
  const crawlStart = Date.now()
  const progress = setInterval(() => {
    db.query("SELECT count(*)::int AS n FROM crawl.pages").then(([r]) => say(`  ${r.n} pages stored`), () => {})
  }, 2000)
  let job
  try {
    job = await client.submit(join(import.meta.dirname, 'crawl.mjs'), input, { parts: workers })
  } finally {
    clearInterval(progress)
  }
  const wallMs = Date.now() - crawlStart

  const perNode = await db.query('SELECT fetched_by, count(*)::int AS n FROM crawl.pages GROUP BY fetched_by ORDER BY fetched_by')
  const [{ n: stored }] = await db.query('SELECT count(*)::int AS n FROM crawl.pages')
  const [{ n: failed }] = await db.query("SELECT count(*)::int AS n FROM crawl.frontier WHERE state = 'failed'")
  say('\npages stored per node:')
  for (const { fetched_by: peer, n } of perNode) say(`  ${(label.get(peer) ?? peer).padEnd(24)} ${n}`)
  say(`\n${stored} pages stored of ${pages} on the site${failed > 0 ? `, ${failed} failed` : ''}; ${job.tasks} tasks; wall time ${wallMs} ms (job ${job.wallMs} ms, everything ${Date.now() - t0} ms)`)
  if (stored !== pages) process.exitCode = 1
} catch (err) {
  if (!signalled) process.stderr.write(`crawler example failed: ${err?.stack ?? err}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}
