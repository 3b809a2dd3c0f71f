import { median, quantile } from '../stats.js'

// Figures per system and metric, one value per timed run.

export type Metric =
  | 'empty.tps' // all tasks submitted at once: tasks ÷ wall at the submitter
  | 'empty.node.tps' // Meshwork only: tasks ÷ the job's wall time measured by the node
  | 'empty.onCoordinator' // Meshwork only: the share of the tasks that ran on the coordinator's node
  | 'empty.firstOnNode.tps' // Meshwork only: warm-up jobs, each the first its coordinator coordinated (empty.tps's measure)
  | 'empty.p50' | 'empty.p99' // per-task latency (what it measures depends on the system; see the report)
  | 'empty.win.tps' | 'empty.win.p50' | 'empty.win.p99' // bounded window of tasks in flight at the submitter
  | 'primes.wallMs' | 'primes.node.wallMs'
  | 'words.wallMs' | 'words.node.wallMs' | 'words.offCoordinator'

export class Results {
  readonly data: Record<string, Partial<Record<Metric, number[]>>> = {}
  readonly errors: Record<string, string> = {}
  /** Event counts worth reporting, e.g. Meshwork polls that failed and were retried. */
  readonly counts: Record<string, Record<string, number>> = {}

  count (system: string, what: string, n = 1): void {
    const s = (this.counts[system] ??= {})
    s[what] = (s[what] ?? 0) + n
  }

  add (system: string, metric: Metric, value: number): void {
    const s = (this.data[system] ??= {})
    ;(s[metric] ??= []).push(value)
  }

  get (system: string, metric: Metric): number[] | undefined {
    const v = this.data[system]?.[metric]
    return v !== undefined && v.length > 0 ? v : undefined
  }

  med (system: string, metric: Metric): number | undefined {
    const v = this.get(system, metric)
    return v === undefined ? undefined : median(v)
  }

  fail (system: string, err: unknown): void {
    this.errors[system] = err instanceof Error ? err.message : String(err)
  }
}

export const p50 = (xs: number[]): number => quantile(xs, 0.5)
export const p99 = (xs: number[]): number => quantile(xs, 0.99)
