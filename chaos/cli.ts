import '../src/polyfill.js'
import { runChaos } from './run.js'
import { listNamespaces } from './netns.js'

// npm run chaos [-- --nodes 5 --seed 1 --duration-ms 300000 --concurrency 3 --tasks 20 --task-ms 200]
//                [--partitions | --no-partitions]   (default: partitions when network namespaces can be made: root + iproute2)

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run chaos -- [options]

Real node processes, a stream of jobs with checkable results, and seeded faults (kill -9 of
coordinators and workers, SIGSTOP pauses, restarts, and partitions between network namespaces).
Prints a table; exits 1 if a job was lost or a result was wrong or duplicated.

  --nodes N              node processes (default 5)
  --seed S               fault schedule and job placement seed (default 1)
  --duration-ms MS       how long faults are injected (default 300000)
  --concurrency N        jobs in flight at a time (default 3)
  --tasks N              tasks per job (default 20)
  --task-ms MS           time each task takes (default 200)
  --job-deadline-ms MS   a job not final this long after submission is lost (default 120000)
  --partitions           each node in its own network namespace, partitions among the faults
  --no-partitions        all nodes on 127.0.0.1, no partitions
                         (default: partitions when running as root with iproute2)

Ctrl-C stops the run and removes its processes and namespaces.
`)
  process.exit(0)
}

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`)
  return v
}

const netnsAvailable = async (): Promise<boolean> => process.getuid?.() === 0 && await listNamespaces().then(() => true, () => false)
const partitions = process.argv.includes('--no-partitions') ? false : process.argv.includes('--partitions') ? true : await netnsAvailable()
if (!partitions) process.stderr.write('chaos: no partitions in this run (they need root and iproute2 for network namespaces)\n')

// Output may go to a pipe that closes early (`| head`): that must not end the run before its cleanup.
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})
const abort = new AbortController()
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => abort.abort())

const report = await runChaos({
  signal: abort.signal,
  partitions,
  nodes: arg('nodes', 5),
  seed: arg('seed', 1),
  durationMs: arg('duration-ms', 300_000),
  concurrency: arg('concurrency', 3),
  tasksPerJob: arg('tasks', 20),
  taskMs: arg('task-ms', 200),
  jobDeadlineMs: arg('job-deadline-ms', 120_000),
  log: line => process.stderr.write(line + '\n'),
})
process.stdout.write(report.table)
process.exitCode = report.lost === 0 && report.wrong === 0 && report.duplicates === 0 ? 0 : 1
