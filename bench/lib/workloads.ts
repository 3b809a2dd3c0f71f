import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

// The three workloads, shared by every system: the same job modules Meshwork runs
// (bench/jobs/empty.mjs, examples/primes.mjs, examples/wordcount.mjs). The baselines call
// the module's split at the submitter, its map in their workers and its reduce at the
// submitter; Meshwork runs all three itself.

export type Kind = 'empty' | 'primes' | 'words'

export interface JobModule {
  split: (input: unknown, ctx: { parts?: number }) => Iterable<unknown> | unknown[]
  map: (chunk: unknown, ctx?: object) => unknown
  reduce: (results: unknown[], ctx?: object) => unknown
}

export function modulePaths (root: string): Record<Kind, string> {
  return {
    empty: join(root, 'bench', 'jobs', 'empty.mjs'),
    primes: join(root, 'examples', 'primes.mjs'),
    words: join(root, 'examples', 'wordcount.mjs'),
  }
}

export async function loadModules (root: string): Promise<Record<Kind, JobModule>> {
  const paths = modulePaths(root)
  const load = async (p: string): Promise<JobModule> => (await import(pathToFileURL(p).href) as { default: JobModule }).default
  return { empty: await load(paths.empty), primes: await load(paths.primes), words: await load(paths.words) }
}

/** Dispatches one task to a system's workers; resolves with the map result. */
export type Dispatch = (kind: Kind, chunk: unknown) => Promise<unknown>

export interface WindowedResult { wallMs: number, latenciesMs: number[], results: unknown[] }

/**
 * Runs `chunks` through `dispatch` keeping at most `window` tasks in flight (Infinity: all at
 * once). Each latency is the submitter's round trip: dispatch call → result received.
 */
export async function runWindowed (dispatch: Dispatch, kind: Kind, chunks: unknown[], window: number): Promise<WindowedResult> {
  const results = new Array<unknown>(chunks.length)
  const latenciesMs = new Array<number>(chunks.length)
  const t0 = performance.now()
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < chunks.length) {
      const i = next++
      const s = performance.now()
      results[i] = await dispatch(kind, chunks[i])
      latenciesMs[i] = performance.now() - s
    }
  }
  const lanes = Math.max(1, Math.min(chunks.length, Number.isFinite(window) ? window : chunks.length))
  await Promise.all(Array.from({ length: lanes }, lane))
  return { wallMs: performance.now() - t0, latenciesMs, results }
}
