import { readFileSync } from 'node:fs'
import { join } from 'node:path'
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
// runs word count over the bundled corpus, then shuts down.

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
      await runWordCount(mesh).catch((err: Error) => { if (!stopping) process.stdout.write(`the demo job did not finish: ${err.message}\n`) })
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
    await runWordCount(mesh)
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

async function runWordCount (mesh: LocalMesh): Promise<void> {
  const root = packageRoot()
  const corpus = readFileSync(join(root, 'examples', 'corpus', 'licenses.txt'))
  const input = Buffer.concat(Array.from({ length: CORPUS_REPEATS }, () => corpus))
  process.stdout.write(`Word count over the bundled corpus ×${CORPUS_REPEATS} (${(input.length / 1e6).toFixed(1)} MB), submitted on node 1:\n`)
  const client = new MeshClient(mesh.nodes[1]!.apiUrl, mesh.token)
  const job = await prepareJob(join(root, 'examples', 'wordcount.mjs'), { bytes: input }, { parts: 48 })
  const t0 = Date.now()
  const { jobId, coordinator } = await sendJob(client, job)
  process.stdout.write(`job ${jobId}, coordinator ${shortId(coordinator)}\n`)
  const reporter = new ProgressReporter(process.stdout, t0)
  const record = await followJob(client, jobId, r => reporter.update(r))
  reporter.end()
  if (record.state !== 'done') throw new JobFailedError(`the demo job ${record.state}: ${record.error ?? ''}`)
  const result = record.result as { words: number, distinct: number, top: Array<[string, number]> }
  process.stdout.write(`\n${result.words} words, ${result.distinct} distinct. Top 10:\n`)
  for (const [word, count] of result.top.slice(0, 10)) process.stdout.write(`  ${word.padEnd(12)} ${count}\n`)
  process.stdout.write('\nTasks per node:\n')
  for (const [peer, n] of Object.entries(record.tasksByPeer)) process.stdout.write(`  ${shortId(peer)}  ${n}\n`)
  process.stdout.write(`\n${record.tasks} tasks, wall time ${formatDuration(record.wallMs ?? 0)}\n\n`)
}

