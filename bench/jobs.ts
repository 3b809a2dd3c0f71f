import '../src/polyfill.js'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { Mesh } from '../src/index.js'
import { MeshClient } from '../src/node/cli/client.js'
import { waitForFullMesh } from '../src/node/testing/local-mesh.js'
import { LocalMesh } from '../src/node/testing/local-mesh.js'
import { packageRoot } from '../src/package-root.js'
import { median, spread } from './stats.js'

// npm run bench:jobs [-- --nodes 3 --runs 3 --tasks 20000 --primes-to 15000000]
// On a local mesh: empty-task throughput and per-task round trip, and the CPU-bound example's
// wall time against a single-process run of the same work measured in the same run.

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback
}
const nodes = Number(arg('nodes', '3'))
const runs = Number(arg('runs', '3'))
const tasks = Number(arg('tasks', '20000'))
const primesTo = Number(arg('primes-to', '15000000'))
const root = packageRoot()
const emptyJob = join(root, 'bench', 'jobs', 'empty.mjs')
const primesJob = join(root, 'examples', 'primes.mjs')

interface PrimesModule { default: { split: (i: unknown, c: object) => unknown[], map: (c: unknown) => number, reduce: (r: number[]) => number } }

async function sequentialPrimes (): Promise<{ ms: number, result: number }> {
  const mod = (await import(pathToFileURL(primesJob).href) as PrimesModule).default
  const t0 = performance.now()
  const chunks = mod.split({ from: 0, to: primesTo }, { parts: 1 })
  const result = mod.reduce(chunks.map(c => mod.map(c)))
  return { ms: performance.now() - t0, result }
}

const mesh = await LocalMesh.start({ nodes, fastTimers: false, logLevel: 'warn' })
try {
  await waitForFullMesh(mesh, nodes, 60_000)
  const client = new Mesh(new MeshClient(mesh.nodes[0]!.apiUrl, mesh.token))
  // Warm-up: code caches, executors and streams on every node.
  await client.submit(emptyJob, { tasks: 2000 })
  await client.submit(primesJob, { from: 0, to: 200_000 }, { parts: 12 })

  const throughput: number[] = []
  const p50: number[] = []
  const p99: number[] = []
  for (let r = 0; r < runs; r++) {
    const out = await client.submit(emptyJob, { tasks })
    if (out.result !== tasks) throw new Error(`empty job returned ${String(out.result)}`)
    const record = await client.job(out.jobId)
    throughput.push(tasks / (out.wallMs / 1000))
    p50.push(record.taskRoundTripMs?.p50 ?? NaN)
    p99.push(record.taskRoundTripMs?.p99 ?? NaN)
  }

  const seqMs: number[] = []
  const meshMs: number[] = []
  let expected = 0
  for (let r = 0; r < runs; r++) {
    const seq = await sequentialPrimes()
    expected = seq.result
    seqMs.push(seq.ms)
    const out = await client.submit(primesJob, { from: 0, to: primesTo }, { parts: nodes * 2 * 4 })
    if (out.result !== expected) throw new Error(`mesh primes ${String(out.result)} != ${expected}`)
    meshMs.push(out.wallMs)
  }
  const ratio = median(meshMs) / median(seqMs)
  const efficiency = median(seqMs) / (median(meshMs) * cpus().length)
  process.stdout.write([
    `Jobs benchmark — ${nodes}-node mesh on 127.0.0.1, ${runs} runs, median (min–max); Node ${process.version}, ${cpus().length} cores.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| empty tasks: throughput (${tasks} tasks, one submitter), tasks/s | ${spread(throughput)} |`,
    `| empty tasks: round trip p50 (coordinator assign → result), ms | ${spread(p50, 3)} |`,
    `| empty tasks: round trip p99, ms | ${spread(p99, 3)} |`,
    `| primes below ${primesTo}: single process, ms | ${spread(seqMs)} |`,
    `| primes below ${primesTo}: mesh wall, ms | ${spread(meshMs)} |`,
    `| mesh ÷ single process (wall ratio) | ${ratio.toFixed(3)} |`,
    `| parallel efficiency = sequential ÷ (wall × ${cpus().length} cores) | ${efficiency.toFixed(3)} |`,
    '',
  ].join('\n'))
} finally {
  await mesh.stop()
}
