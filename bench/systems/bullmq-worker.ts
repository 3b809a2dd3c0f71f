import { Worker } from 'bullmq'
import { packageRoot } from '../../src/package-root.js'
import { exitWithParent } from '../lib/procs.js'
import { loadModules, type Kind } from '../lib/workloads.js'

// node dist/bench/systems/bullmq-worker.js CONFIG_JSON
// One BullMQ worker process: takes jobs from the queue on the benchmark's Redis and runs the job
// module's map on each.

export interface BullmqWorkerConfig { port: number, queue: string, concurrency: number }

const config = JSON.parse(process.argv[2] ?? '{}') as BullmqWorkerConfig
const modules = await loadModules(packageRoot())
const worker = new Worker<{ kind: Kind, chunk: unknown }>(config.queue, async job => modules[job.data.kind].map(job.data.chunk, {}), {
  connection: { host: '127.0.0.1', port: config.port },
  concurrency: config.concurrency,
  autorun: false,
})
worker.on('error', err => process.stderr.write(`worker error: ${err.message}\n`))
exitWithParent(async () => { await worker.close() })
try {
  await worker.waitUntilReady()
  void worker.run()
  process.send?.({ ready: true })
} catch (err) {
  process.send?.({ fatal: (err as Error).message })
  process.exit(1)
}
