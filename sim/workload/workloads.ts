import type { Rng } from '../engine/random.js'
import { normalFor, unitFor } from './task-values.js'

// The workloads: which jobs arrive when, from which submitter, with how many tasks of what
// duration and size. Durations are CPU milliseconds at speed 1 and come from a hash of
// (job seed, task index), so they are reproducible without being stored.

export type WorkloadName = 'tiny' | 'cpu' | 'stragglers' | 'multi' | 'buildfarm' | 'owner'
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['tiny', 'cpu', 'stragglers', 'multi', 'buildfarm', 'owner']

export type Duration =
  | { kind: 'lognormal', medianMs: number, sigma: number, maxMs: number }
  | { kind: 'pareto', minMs: number, alpha: number, maxMs: number }

export interface JobPlan {
  index: number
  jobId: string
  submitter: number
  submitAtMs: number
  taskCount: number
  weight: number
  seed: number
  duration: Duration
  chunkBytes: number
  resultBytes: number
}

export interface Workload {
  name: WorkloadName
  jobs: JobPlan[]
  /** Fraction of nodes whose owner's load comes and goes (overrides the node model). */
  ownerFraction?: number
  description: string
}

export const TASKS_TOTAL_MAX = 10_000_000
export const JOBS_MAX = 10_000

export function taskWorkMs (job: JobPlan, index: number): number {
  const d = job.duration
  if (d.kind === 'lognormal') return Math.min(d.maxMs, d.medianMs * Math.exp(d.sigma * normalFor(job.seed, index)))
  return Math.min(d.maxMs, d.minMs / Math.pow(unitFor(job.seed, index, 3), 1 / d.alpha))
}

interface Shape {
  description: string
  jobs: (n: number) => number
  tasksPerNode: number
  tasksMin: number
  /** Jobs arrive over this window (exponential gaps scaled to fit), 0 = all at once. */
  arrivalWindowMs: number
  submitters: (n: number) => number
  duration: Duration
  chunkBytes: number
  resultBytes: number
  ownerFraction?: number
}

const SHAPES: Record<WorkloadName, Shape> = {
  tiny: {
    description: 'many tiny tasks (median 5 ms) in 4 jobs',
    jobs: () => 4, tasksPerNode: 100, tasksMin: 2000, arrivalWindowMs: 0, submitters: n => Math.min(n, 4),
    duration: { kind: 'lognormal', medianMs: 5, sigma: 0.5, maxMs: 1000 }, chunkBytes: 64, resultBytes: 16,
  },
  cpu: {
    description: 'CPU-heavy tasks (median 4 s) in 2 jobs',
    jobs: () => 2, tasksPerNode: 12, tasksMin: 100, arrivalWindowMs: 0, submitters: n => Math.min(n, 2),
    duration: { kind: 'lognormal', medianMs: 4000, sigma: 0.25, maxMs: 60_000 }, chunkBytes: 64, resultBytes: 16,
  },
  stragglers: {
    description: 'heavy-tailed durations (Pareto, alpha 1.3, min 200 ms) in 2 jobs',
    jobs: () => 2, tasksPerNode: 12, tasksMin: 200, arrivalWindowMs: 0, submitters: n => Math.min(n, 2),
    duration: { kind: 'pareto', minMs: 200, alpha: 1.3, maxMs: 40_000 }, chunkBytes: 64, resultBytes: 16,
  },
  multi: {
    description: 'many concurrent jobs (N/4, 8..64) from up to 16 submitters over 20 s, median task 300 ms',
    jobs: n => Math.max(8, Math.min(64, Math.floor(n / 4))), tasksPerNode: 10, tasksMin: 1000, arrivalWindowMs: 20_000, submitters: n => Math.min(n, 16),
    duration: { kind: 'lognormal', medianMs: 300, sigma: 0.8, maxMs: 30_000 }, chunkBytes: 256, resultBytes: 64,
  },
  buildfarm: {
    description: 'a build farm: 5 jobs of short compile tasks (median 600 ms, 6 KB source in, 30 KB object out)',
    jobs: () => 5, tasksPerNode: 10, tasksMin: 10_000, arrivalWindowMs: 8000, submitters: n => Math.min(n, 5),
    duration: { kind: 'lognormal', medianMs: 600, sigma: 0.7, maxMs: 30_000 }, chunkBytes: 6000, resultBytes: 30_000,
  },
  owner: {
    description: 'owners\' own load comes and goes on 60% of nodes (busy ~20 s, idle ~40 s); 8 jobs of 1 s tasks',
    jobs: () => 8, tasksPerNode: 10, tasksMin: 400, arrivalWindowMs: 10_000, submitters: n => Math.min(n, 8),
    duration: { kind: 'lognormal', medianMs: 1000, sigma: 0.4, maxMs: 30_000 }, chunkBytes: 128, resultBytes: 32,
    ownerFraction: 0.6,
  },
}

export function isWorkloadName (name: string): name is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(name)
}

/**
 * The jobs of a workload on `nodes` nodes. `tasksTotal` overrides the default total task
 * count; `jobs` overrides the job count. Submitters are spread over the node indices.
 */
export function buildWorkload (name: WorkloadName, nodes: number, rng: Rng, startMs: number, tasksTotal?: number, jobsOverride?: number): Workload {
  const shape = SHAPES[name]
  const jobCount = Math.max(1, Math.min(JOBS_MAX, jobsOverride ?? shape.jobs(nodes)))
  const total = Math.min(TASKS_TOTAL_MAX, Math.max(jobCount, tasksTotal ?? Math.max(shape.tasksMin, shape.tasksPerNode * nodes)))
  const submitterCount = Math.max(1, shape.submitters(nodes))
  const submitters = rng.sample(nodes, submitterCount)
  // Arrival gaps: exponential draws scaled so the last job arrives at the end of the window.
  const gaps = Array.from({ length: jobCount }, (_, i) => (i === 0 ? 0 : rng.exponential(1)))
  const gapSum = gaps.reduce((a, b) => a + b, 0)
  // Task counts: an even split with +-50% jitter, adjusted so they add up to `total`.
  const raw = Array.from({ length: jobCount }, () => 0.5 + rng.next())
  const rawSum = raw.reduce((a, b) => a + b, 0)
  const counts = raw.map(r => Math.max(1, Math.floor(total * r / rawSum)))
  let diff = total - counts.reduce((a, b) => a + b, 0)
  for (let i = 0; diff !== 0; i = (i + 1) % jobCount) {
    const step = diff > 0 ? 1 : (counts[i] as number) > 1 ? -1 : 0
    counts[i] = (counts[i] as number) + step
    diff -= step
  }
  let at = startMs
  const jobs: JobPlan[] = []
  for (let i = 0; i < jobCount; i++) {
    at += gapSum > 0 ? (gaps[i] as number) / gapSum * shape.arrivalWindowMs : 0
    jobs.push({
      index: i,
      jobId: `job-${String(i).padStart(4, '0')}`,
      submitter: submitters[i % submitterCount] as number,
      submitAtMs: Math.round(at),
      taskCount: counts[i] as number,
      weight: 1,
      seed: (rng.int(2 ** 31) ^ (i * 2654435761)) >>> 0,
      duration: shape.duration,
      chunkBytes: shape.chunkBytes,
      resultBytes: shape.resultBytes,
    })
  }
  return { name, jobs, ...(shape.ownerFraction !== undefined ? { ownerFraction: shape.ownerFraction } : {}), description: shape.description }
}
