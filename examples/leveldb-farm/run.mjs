// LevelDB and Snappy (from the npm package classic-level) built twice: by `make -j2` on this
// machine, and by farm.mjs on a local mesh of real nodes; prints both timings and checks that
// every unit has the same exit code, diagnostics and object sha256 in both builds.
//   npx tsc -p tsconfig.json                 (run.mjs uses dist/ for the local mesh)
//   node examples/leveldb-farm/run.mjs [--nodes 3] [--slots 1] [--jobs 2] [--gyp]
// --slots: tasks each node runs at once; --jobs: make's -j; --gyp: only the 42 units
// classic-level's gyp files build on Linux, instead of all 81 .cc files (11 of which fail to
// compile in both builds: see pack.mjs). Exits 1 if any unit differs. Every node, and every
// file of both builds, is removed at the end, on failure and on Ctrl-C too.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildLocal } from './local-build.mjs'
import { packClassicLevel } from './pack.mjs'

const root = join(import.meta.dirname, '..', '..')
const dist = join(root, 'dist', 'src', 'node', 'testing', 'local-mesh.js')
const { values: opt } = parseArgs({ options: { nodes: { type: 'string', default: '3' }, slots: { type: 'string', default: '1' }, jobs: { type: 'string', default: '2' }, gyp: { type: 'boolean', default: false } } })
if (!existsSync(dist)) {
  process.stderr.write('run.mjs starts its mesh with dist/: build first with `npx tsc -p tsconfig.json`\n')
  process.exit(2)
}
const { LocalMesh, waitForFullMesh } = await import(dist)
const nodes = Number(opt.nodes)
const load = () => loadavg().map(l => l.toFixed(2)).join(' ')
const secs = ms => `${(ms / 1000).toFixed(1)} s`

const work = mkdtempSync(join(tmpdir(), 'meshwork-leveldb-farm-'))
let mesh
let cleaned = false
const cleanup = async () => {
  if (cleaned) return
  cleaned = true
  await mesh?.stop().catch(() => {})
  rmSync(work, { recursive: true, force: true })
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { void cleanup().then(() => process.exit(130)) })

/** `meshwork submit … --json` against `api`, timed here at the client. */
const submit = async (api, args, token) => await new Promise((resolve, reject) => {
  const started = performance.now()
  execFile(process.execPath, [join(root, 'bin', 'meshwork.js'), 'submit', ...args, '--api', api, '--json'], { env: { ...process.env, MESHWORK_TOKEN: token, NO_COLOR: '1' }, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
    if (err !== null) reject(new Error(`submit failed: ${stderr || err.message}`))
    else resolve({ ms: performance.now() - started, out: JSON.parse(stdout) })
  })
})

let exitCode = 1
try {
  const project = packClassicLevel(undefined, { gyp: opt.gyp })
  for (const n of project.notes) process.stdout.write(`note: ${n}\n`)
  const input = join(work, 'leveldb.json')
  writeFileSync(input, JSON.stringify({ files: project.files, units: project.units }))
  process.stdout.write(`${project.units.length} translation units of classic-level (LevelDB 1.20, Snappy${project.units.some(u => u.source === 'binding.cc') ? ', binding.cc' : ''}), ${Object.keys(project.files).length} files\n`)

  process.stdout.write(`Local: make -j${opt.jobs} … (load average ${load()})\n`)
  const local = await buildLocal(project, join(work, 'local'), Number(opt.jobs))
  process.stdout.write(`  make -j${opt.jobs}: ${secs(local.ms)} (load average after: ${load()})\n`)

  process.stdout.write(`Mesh: starting ${nodes} nodes (--slots ${opt.slots}, --allow-exec c++) …\n`)
  mesh = await LocalMesh.start({ nodes, logLevel: 'warn', args: ['--slots', opt.slots, '--task-timeout-ms', '300000', '--allow-exec', 'c++'] })
  await waitForFullMesh(mesh, nodes, 60_000)
  process.stdout.write(`  running farm.mjs … (load average ${load()})\n`)
  const { ms, out } = await submit(mesh.nodes[0].apiUrl, [join(import.meta.dirname, 'farm.mjs'), '--input', input], mesh.token)
  process.stdout.write(`  mesh of ${nodes}: ${secs(ms)} at the client (the job's own wall: ${secs(out.wallMs)}; load average after: ${load()})\n`)
  const names = Object.fromEntries(mesh.nodes.map(n => [n.peerId, `node-${n.index}`]))
  process.stdout.write(`  tasks by node: ${Object.entries(out.result.tasksByPeer).map(([p, n]) => `${names[p] ?? p} ${n}`).join(', ')}\n`)

  const diffs = []
  for (const u of project.units) {
    const a = local.objects[u.source]
    const b = out.result.objects[u.source]
    if (b === undefined) { diffs.push(`${u.source}: no result from the mesh`); continue }
    for (const k of ['exitCode', 'sha256', 'diagnostics']) if (a[k] !== b[k]) diffs.push(`${u.source}: ${k} differs (local ${JSON.stringify(a[k]).slice(0, 80)}, mesh ${JSON.stringify(b[k]).slice(0, 80)})`)
  }
  const ok = Object.values(local.objects).filter(o => o.exitCode === 0).length
  process.stdout.write(`Compared: ${project.units.length} units, ${ok} objects built, ${project.units.length - ok} units failed to compile (in both builds)\n`)
  if (diffs.length === 0) {
    process.stdout.write(`  identical: every exit code, diagnostic and object sha256 matches the local build\n`)
    exitCode = 0
  } else {
    process.stdout.write(`  ${diffs.length} differences:\n${diffs.map(d => `    ${d}\n`).join('')}`)
  }
  process.stdout.write(`Timings: make -j${opt.jobs} ${secs(local.ms)}, mesh of ${nodes} on this one machine ${secs(ms)}\n`)
} catch (err) {
  process.stderr.write(`run.mjs: ${err.stack ?? err}\n`)
} finally {
  await cleanup()
}
process.exit(exitCode)
