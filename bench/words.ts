import '../src/polyfill.js'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../src/package-root.js'
import { generateCorpus } from './lib/corpus.js'
import { cleanupAll, installExitHandlers } from './lib/procs.js'
import { startMeshwork } from './systems/meshwork.js'
import { startPiscina } from './systems/piscina.js'

// npm run bench:words [-- --mb 100] [--parts 64] [--runs 3] [--nodes 3] [--module examples/wordcount.mjs]
//                      [--only one,piscina,mesh]
//
// Word count over a generated corpus, the data-heavy row of BENCHMARKS.md, alone: one process,
// piscina (a thread per core) and a local mesh of real node processes, in one run. For the mesh
// it prints the client's wall (upload included), the job's wall at its node, the share of tasks
// run off the coordinator's node and each node's peak RSS (daemon and executors, from /proc).

const argv = process.argv.slice(2)
const arg = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] as string : dflt }
const root = packageRoot()
const distBench = dirname(fileURLToPath(import.meta.url))
const mb = Number(arg('mb', '100'))
const parts = Number(arg('parts', '64'))
const runs = Number(arg('runs', '3'))
const nodes = Number(arg('nodes', '3'))
const modulePath = resolve(arg('module', join(root, 'examples', 'wordcount.mjs')))
const only = arg('only', 'one,piscina,mesh').split(',')
const cores = cpus().length

installExitHandlers()
const work = mkdtempSync(join(tmpdir(), 'mw-words-'))
const corpus = join(work, 'corpus.txt')
await generateCorpus(corpus, mb * 1024 * 1024, root)
const mod = (await import(modulePath) as { default: WordsModule }).default
const reference = JSON.stringify(oneProcess())
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const say = (line: string): void => { process.stdout.write(`${line}\n`) }
say(`word count: ${mb} MB, ${parts} parts, ${runs} runs, ${cores} cores, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)

interface WordsModule { split: (input: unknown, ctx: object) => unknown[], map: (chunk: unknown, ctx: object) => unknown, reduce: (results: unknown[], ctx: object) => unknown, combine?: (results: unknown[], ctx: object) => unknown }

function oneProcess (): unknown {
  const chunks = mod.split(readFileSync(corpus), { parts })
  const results = chunks.map((c, taskIndex) => mod.map(c, { taskIndex, parts }))
  return mod.reduce(results, { parts })
}

function check (value: unknown, who: string): void {
  if (JSON.stringify(value) !== reference) throw new Error(`${who}: the word count differs from the single process's`)
}

try {
  if (only.includes('one')) {
    const walls: number[] = []
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now()
      check(oneProcess(), 'one process')
      walls.push(performance.now() - t0)
    }
    say(`one process: ${median(walls).toFixed(0)} ms (runs ${walls.map(w => w.toFixed(0)).join(', ')})`)
  }
  if (only.includes('piscina')) {
    const pool = await startPiscina(distBench, cores, 1)
    const walls: number[] = []
    try {
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now()
        const chunks = mod.split(readFileSync(corpus), { parts })
        const results = await Promise.all(chunks.map(async c => await pool.dispatch('words', c)))
        check(mod.reduce(results, { parts }), 'piscina')
        walls.push(performance.now() - t0)
      }
    } finally { await pool.stop() }
    say(`piscina (${cores} threads): ${median(walls).toFixed(0)} ms (runs ${walls.map(w => w.toFixed(0)).join(', ')})`)
  }
  if (only.includes('mesh')) {
    const mesh = await startMeshwork({ nodes, baseDir: join(work, 'mesh'), env: process.env })
    try {
      const walls: number[] = []
      for (let r = 0; r <= runs; r++) {
        const peaks = new Map<number, number>()
        const sampler = setInterval(() => { for (const [i, pid] of mesh.pids().entries()) peaks.set(i, Math.max(peaks.get(i) ?? 0, treeRssBytes(pid))) }, 100)
        const t0 = performance.now()
        const job = await mesh.build(modulePath, { file: corpus }, parts)
        const { record } = await mesh.run(job)
        const wall = performance.now() - t0
        clearInterval(sampler)
        check(record.result, 'mesh')
        const total = Object.values(record.tasksByPeer).reduce((a, b) => a + b, 0)
        const off = 1 - (record.tasksByPeer[record.coordinator ?? ''] ?? 0) / Math.max(1, total)
        const rss = [...peaks.values()].map(b => `${(b / 2 ** 20).toFixed(0)}`).join('/')
        if (r === 0) { say(`mesh warm-up: ${wall.toFixed(0)} ms`); continue }
        walls.push(wall)
        say(`mesh run ${r}: client ${wall.toFixed(0)} ms, job ${record.wallMs?.toFixed(0) ?? '?'} ms, ${(off * 100).toFixed(0)} % of tasks off the coordinator's node, peak RSS per node ${rss} MiB`)
      }
      say(`mesh (${nodes} nodes): ${median(walls).toFixed(0)} ms at the client (median)`)
    } finally { await mesh.stop() }
  }
} finally {
  await cleanupAll()
  rmSync(work, { recursive: true, force: true })
}

/** Resident memory of a process and every descendant (Linux /proc), 0 once gone. */
function treeRssBytes (pid: number): number {
  const children = new Map<number, number[]>()
  let self = 0
  const rssOf = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const p = Number(entry)
      const ppid = Number(fields[1])
      rssOf.set(p, Number(fields[21]) * 4096)
      children.set(ppid, [...(children.get(ppid) ?? []), p])
    } catch { /* gone meanwhile */ }
  }
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop() as number
    self += rssOf.get(p) ?? 0
    stack.push(...(children.get(p) ?? []))
  }
  return self
}
