import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { cpus, loadavg } from 'node:os'
import { packageRoot } from '../../package-root.js'
import { MeshClient } from './client.js'
import { formatStatus } from './cmd-status.js'
import { shortId } from './format.js'
import { dashboardUrl } from '../api/dashboard/token.js'
import { LocalMesh, waitForFullMesh } from '../testing/local-mesh.js'
import { ProgressReporter } from './progress.js'
import { formatDuration } from './units.js'
import { followJob, prepareJob, sendJob } from './submit.js'
import { JobFailedError } from './cmd-submit.js'

// `meshwork demo` (what `npm start` runs): a local mesh of real node processes on 127.0.0.1
// runs word count over the bundled corpus, then a CPU-bound job sized so that the mesh pays off,
// each beside the same job's wall in this one process, measured in the same run; then shuts down.

const CORPUS_REPEATS = 40

export async function demoCommand (opts: { nodes: number, keep?: boolean }): Promise<void> {
  const started = Date.now()
  process.stdout.write(`Starting a local mesh of ${opts.nodes} nodes on 127.0.0.1 …\n`)
  const mesh = await LocalMesh.start({ nodes: opts.nodes, logLevel: 'warn' })
  // Ctrl-C (or SIGTERM) stops every node and removes the mesh's files. With --keep it is the way
  // to end the demo: exit 0; otherwise it interrupts it: 130.
  let stopping = false
  const stopOnSignal = (): void => {
    if (stopping) return
    stopping = true
    process.stdout.write('\nStopping the mesh …\n')
    void mesh.stop().then(() => process.exit(opts.keep === true ? 0 : 130), () => process.exit(1))
  }
  process.on('SIGINT', stopOnSignal)
  process.on('SIGTERM', stopOnSignal)
  if (opts.keep === true) {
    try {
      const view = await waitForFullMesh(mesh, opts.nodes, 60_000)
      process.stdout.write(`All ${opts.nodes} nodes see each other after ${formatDuration(Date.now() - started)}:\n\n${formatStatus(view)}\n\n`)
      process.stdout.write(keptMeshText(mesh))
      await runDemoJobs(mesh).catch((err: Error) => { if (!stopping) process.stdout.write(`the demo job did not finish: ${err.message}\n`) })
      if (stopping) return
    } catch (err) {
      stopping = true
      await mesh.stop()
      throw err
    }
    process.stdout.write('The mesh keeps running (--keep). Press Ctrl-C to stop every node and remove its files.\n')
    // Until a signal: nothing else holds the event loop open.
    setInterval(() => {}, 2 ** 30)
    return
  }
  try {
    const view = await waitForFullMesh(mesh, opts.nodes, 60_000)
    process.stdout.write(`All ${opts.nodes} nodes see each other after ${formatDuration(Date.now() - started)}:\n\n${formatStatus(view)}\n\n`)
    await runDemoJobs(mesh)
  } finally {
    if (!stopping) {
      stopping = true
      process.stdout.write('Stopping the mesh …\n')
      await mesh.stop()
    }
    process.off('SIGINT', stopOnSignal)
    process.off('SIGTERM', stopOnSignal)
  }
}

/** What `demo --keep` prints about the mesh it leaves running: the dashboard, the APIs, how to stop it. */
export function keptMeshText (mesh: Pick<LocalMesh, 'nodes' | 'token' | 'baseDir'>): string {
  const first = mesh.nodes[0]
  if (first === undefined) return ''
  return [
    `Dashboard:  ${dashboardUrl(first.apiUrl, mesh.token)}`,
    '            (the link holds the API token of this mesh: keep it to yourself)',
    'Nodes:',
    ...mesh.nodes.map(n => `  node-${n.index}  ${n.apiUrl}  pid ${n.pid ?? '-'}  data dir ${n.dataDir}`),
    'Try:',
    `  meshwork status --data-dir ${first.dataDir}`,
    `  meshwork top --data-dir ${first.dataDir}`,
    `  meshwork submit examples/primes.mjs --input-json '{"from":0,"to":5000000}' --data-dir ${first.dataDir}`,
    `Stop:       Ctrl-C here stops every node and removes ${mesh.baseDir}`,
    '',
    '',
  ].join('\n')
}

async function runDemoJobs (mesh: LocalMesh): Promise<void> {
  await runWordCount(mesh)
  await runPrimes(mesh)
}

interface LocalModule { split: (input: unknown, ctx: object) => unknown[], map: (chunk: unknown, ctx: object) => unknown, reduce: (results: unknown[], ctx: object) => unknown }

/** The job's wall in this one process: split, every map one after another, reduce. */
async function oneProcessMs (modulePath: string, input: unknown, parts: number): Promise<{ ms: number, result: unknown }> {
  const mod = (await import(pathToFileURL(modulePath).href) as { default: LocalModule }).default
  const t0 = performance.now()
  const chunks = mod.split(input, { parts })
  const result = mod.reduce(chunks.map((c, taskIndex) => mod.map(c, { taskIndex, parts })), { parts })
  return { ms: performance.now() - t0, result }
}

/** "mesh 1.2 s, one process 2.4 s: 2.0× faster on the mesh" (or slower), from figures of this run. */
function compared (meshMs: number, oneMs: number): string {
  const ratio = oneMs / Math.max(1, meshMs)
  // Slower: too small a job to pay for spreading it, or a machine busy with other work (the nodes' executors run at low priority and yield to it).
  const verdict = ratio >= 1 ? `${ratio.toFixed(1)}× faster on the mesh` : `${(1 / ratio).toFixed(1)}× slower on the mesh (load average ${loadavg()[0]?.toFixed(1) ?? '?'} on ${cpus().length} cores)`
  return `mesh ${formatDuration(meshMs)} (at the client, upload included), one process ${formatDuration(oneMs)}: ${verdict}`
}

/** Primes below N, N sized so one process takes about PRIMES_TARGET_MS here: a job big enough for the mesh to pay. */
const PRIMES_TARGET_MS = 4000

async function runPrimes (mesh: LocalMesh): Promise<void> {
  const root = packageRoot()
  const modulePath = join(root, 'examples', 'primes.mjs')
  const mod = await import(pathToFileURL(modulePath).href) as { countPrimes: (from: number, to: number) => number }
  // Trial division below N costs about N^1.5 / ln N (the primes' own divisions): time a small
  // range (once to warm the JIT, once timed), scale up, within bounds.
  const probe = 300_000
  mod.countPrimes(0, probe)
  const t0 = performance.now()
  mod.countPrimes(0, probe)
  const ratio = PRIMES_TARGET_MS / Math.max(1, performance.now() - t0)
  let n = probe * ratio ** (1 / 1.5)
  for (let i = 0; i < 3; i++) n = probe * (ratio * Math.log(n) / Math.log(probe)) ** (1 / 1.5)
  const to = Math.round(Math.min(60_000_000, Math.max(2_000_000, n)) / 1e5) * 1e5
  const parts = 48
  const input = { from: 0, to }
  process.stdout.write(`Prime count below ${to.toLocaleString('en-US')} (CPU-bound, ${parts} tasks), first in this one process, then on the mesh:\n`)
  const one = await oneProcessMs(modulePath, input, parts)
  const client = new MeshClient(mesh.nodes[0]!.apiUrl, mesh.token)
  const t1 = performance.now()
  const { jobId } = await sendJob(client, await prepareJob(modulePath, { json: input }, { parts }))
  const reporter = new ProgressReporter(process.stdout, Date.now())
  const record = await followJob(client, jobId, r => reporter.update(r))
  reporter.end()
  const meshMs = performance.now() - t1
  if (record.state !== 'done') throw new JobFailedError(`the demo job ${record.state}: ${record.error ?? ''}`)
  if (record.result !== one.result) throw new JobFailedError(`the mesh counted ${String(record.result)} primes, this process ${String(one.result)}`)
  process.stdout.write(`\n${String(record.result)} primes; tasks per node: ${tasksPerNode(record.tasksByPeer)}\n${compared(meshMs, one.ms)}\n\n`)
}

function tasksPerNode (byPeer: Record<string, number>): string {
  return Object.entries(byPeer).map(([peer, n]) => `${shortId(peer)} ${n}`).join(', ')
}

async function runWordCount (mesh: LocalMesh): Promise<void> {
  const root = packageRoot()
  const corpus = readFileSync(join(root, 'examples', 'corpus', 'licenses.txt'))
  const input = Buffer.concat(Array.from({ length: CORPUS_REPEATS }, () => corpus))
  process.stdout.write(`Word count over the bundled corpus ×${CORPUS_REPEATS} (${(input.length / 1e6).toFixed(1)} MB), submitted on node 1:\n`)
  const client = new MeshClient(mesh.nodes[1]!.apiUrl, mesh.token)
  const job = await prepareJob(join(root, 'examples', 'wordcount.mjs'), { bytes: input }, { parts: 48 })
  const t0 = Date.now()
  const clientT0 = performance.now()
  const { jobId, coordinator } = await sendJob(client, job)
  process.stdout.write(`job ${jobId}, coordinator ${shortId(coordinator)}\n`)
  const reporter = new ProgressReporter(process.stdout, t0)
  const record = await followJob(client, jobId, r => reporter.update(r))
  reporter.end()
  const meshMs = performance.now() - clientT0
  if (record.state !== 'done') throw new JobFailedError(`the demo job ${record.state}: ${record.error ?? ''}`)
  const one = await oneProcessMs(join(root, 'examples', 'wordcount.mjs'), input, 48)
  const result = record.result as { words: number, distinct: number, top: Array<[string, number]> }
  process.stdout.write(`\n${result.words} words, ${result.distinct} distinct. Top 10:\n`)
  for (const [word, count] of result.top.slice(0, 10)) process.stdout.write(`  ${word.padEnd(12)} ${count}\n`)
  process.stdout.write('\nTasks per node:\n')
  for (const [peer, n] of Object.entries(record.tasksByPeer)) process.stdout.write(`  ${shortId(peer)}  ${n}\n`)
  process.stdout.write(`\n${record.tasks} tasks, wall time ${formatDuration(record.wallMs ?? 0)} at the coordinator\n`)
  if (JSON.stringify(one.result) !== JSON.stringify(record.result)) throw new JobFailedError('the mesh\'s word count differs from this process\'s')
  process.stdout.write(`${compared(meshMs, one.ms)}\n\n`)
}

