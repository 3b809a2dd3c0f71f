import { join } from 'node:path'
import { Piscina } from 'piscina'
import type { Baseline } from './types.js'

// A local worker pool: piscina with one thread per core (minThreads = maxThreads = cores), the
// limit for one machine. `concurrentTasksPerWorker` is the setting the notes warn about: with
// the default 1 a thread gets its next task only after it answered the previous one.

export async function startPiscina (distBench: string, threads: number, concurrentTasksPerWorker: number): Promise<Baseline> {
  const pool = new Piscina({
    filename: join(distBench, 'systems', 'piscina-worker.js'),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker,
    idleTimeout: 60_000,
  })
  // Start every thread and load the modules before anything is timed.
  await Promise.all(Array.from({ length: threads * 2 }, async () => await pool.run({ kind: 'empty', chunk: 0 })))
  return {
    id: `piscina-${concurrentTasksPerWorker}`,
    dispatch: async (kind, chunk) => await pool.run({ kind, chunk }),
    stop: async () => { await pool.destroy() },
  }
}
