import '../src/polyfill.js'
import { runChaos } from './run.js'
import { listNamespaces } from './netns.js'

// npm run chaos [-- --nodes 5 --seed 1 --duration-ms 300000 --concurrency 3 --tasks 20 --task-ms 200]
//                [--partitions | --no-partitions]   (default: partitions when network namespaces can be made: root + iproute2)

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`)
  return v
}

const netnsAvailable = async (): Promise<boolean> => process.getuid?.() === 0 && await listNamespaces().then(() => true, () => false)
const partitions = process.argv.includes('--no-partitions') ? false : process.argv.includes('--partitions') ? true : await netnsAvailable()
if (!partitions) process.stderr.write('chaos: no partitions in this run (they need root and iproute2 for network namespaces)\n')

const report = await runChaos({
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
