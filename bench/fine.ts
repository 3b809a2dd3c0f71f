import '../src/polyfill.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { packageRoot } from '../src/package-root.js'
import { cleanupAll, installExitHandlers } from './lib/procs.js'
import { startMeshwork } from './systems/meshwork.js'
import { startPiscina } from './systems/piscina.js'

// npm run bench:fine [-- --parts 960,3840,24] [--to 9000000] [--runs 3] [--nodes 3]
//
// CPU-bound work in fine tasks that must spread: primes below --to in --parts ranges (960 parts
// of ~4 ms and 3,840 of ~1 ms on this machine's default), in one process, in piscina (a thread
// per core) and on a local mesh of real node processes, in one run. Prints each wall, the
// parallel efficiency (one process's time ÷ (wall × cores)) and, for the mesh, the share of tasks
// run off the coordinator's node.

const argv = process.argv.slice(2)
const arg = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] as string : dflt }
const root = packageRoot()
const distBench = dirname(fileURLToPath(import.meta.url))
const partsList = arg('parts', '960,3840,24').split(',').map(Number)
const to = Number(arg('to', '9000000'))
const runs = Number(arg('runs', '3'))
const nodes = Number(arg('nodes', '3'))
const cores = cpus().length
const modulePath = join(root, 'examples', 'primes.mjs')
interface Primes { split: (i: unknown, c: object) => Array<{ from: number, to: number }>, map: (c: unknown) => number, reduce: (r: number[]) => number }
const mod = (await import(pathToFileURL(modulePath).href) as { default: Primes }).default
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const say = (line: string): void => { process.stdout.write(`${line}\n`) }

installExitHandlers()
const work = mkdtempSync(join(tmpdir(), 'mw-fine-'))
try {
  say(`primes below ${to}, ${cores} cores, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
  const one = (parts: number): number => mod.reduce(mod.split({ from: 0, to }, { parts }).map(c => mod.map(c)))
  const reference = one(1)
  const oneWalls: number[] = []
  for (let r = 0; r < runs; r++) { const t0 = performance.now(); one(1); oneWalls.push(performance.now() - t0) }
  const oneMs = median(oneWalls)
  say(`one process: ${oneMs.toFixed(0)} ms`)
  const eff = (ms: number): string => (oneMs / (ms * cores)).toFixed(2)
  const pool = await startPiscina(distBench, cores, 1)
  const mesh = await startMeshwork({ nodes, baseDir: join(work, 'mesh'), env: process.env })
  try {
    for (const parts of partsList) {
      const chunks = mod.split({ from: 0, to }, { parts })
      const p: number[] = []
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now()
        const results = await Promise.all(chunks.map(async c => await pool.dispatch('primes', c) as number))
        if (mod.reduce(results) !== reference) throw new Error('piscina: wrong count')
        p.push(performance.now() - t0)
      }
      const job = await mesh.build(modulePath, { json: { from: 0, to } }, parts)
      await mesh.run(job) // warm-up: executors started, the job's pace learnt by nobody yet
      const m: number[] = []
      const off: number[] = []
      for (let r = 0; r < runs; r++) {
        const { clientWallMs, record } = await mesh.run(job)
        if (record.result !== reference) throw new Error('mesh: wrong count')
        m.push(clientWallMs)
        off.push(1 - (record.tasksByPeer[record.coordinator ?? ''] ?? 0) / parts)
      }
      const pm = median(p)
      const mm = median(m)
      say(`${parts} parts (~${(oneMs / parts).toFixed(1)} ms each): piscina ${pm.toFixed(0)} ms (efficiency ${eff(pm)}), mesh ${mm.toFixed(0)} ms (efficiency ${eff(mm)}, ${(mm / pm).toFixed(2)}× piscina, ${(median(off) * 100).toFixed(0)} % of tasks off the coordinator's node)`)
    }
  } finally {
    await mesh.stop()
    await pool.stop()
  }
} finally {
  await cleanupAll()
  rmSync(work, { recursive: true, force: true })
}
