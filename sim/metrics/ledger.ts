import type { JobPlan } from '../workload/workloads.js'
import { expectedResult } from '../workload/task-values.js'

// What happened to every job, kept outside the simulated nodes so a crash cannot erase it:
// the checkers and the metrics read it. Publishing a result twice, or a wrong result, is
// recorded here as a violation rather than thrown, so a run always finishes and reports.

export type JobOutcome = 'pending' | 'running' | 'done' | 'failed'

export interface JobEntry {
  plan: JobPlan
  state: JobOutcome
  submittedAtMs: number
  ackedAtMs: number | undefined
  finalAtMs: number | undefined
  publishes: number
  /** The term of the first outcome, and whether a member announced it (rather than its coordinator). */
  publishedTerm: number | undefined
  announced: boolean
  /** Task indices whose published result differs from the expected one. */
  wrongResults: number
  missingResults: number
  error: string | undefined
  /** Every node that coordinated the job, in order, with its term. */
  coordinators: Array<{ node: number, term: number, atMs: number }>
  replicaSet: number[]
  /** Crash times of nodes while they coordinated this job, and when a successor took over. */
  coordinatorCrashesMs: number[]
  recoveriesMs: number[]
  /** The submitter crashed before any coordinator acknowledged the job. */
  submitterLost: boolean
}

export class Ledger {
  readonly jobs = new Map<string, JobEntry>()
  readonly violations: string[] = []
  private static readonly VIOLATIONS_MAX = 100

  add (plan: JobPlan): void {
    this.jobs.set(plan.jobId, {
      plan, state: 'pending', submittedAtMs: plan.submitAtMs, ackedAtMs: undefined, finalAtMs: undefined, publishes: 0, publishedTerm: undefined, announced: false, wrongResults: 0, missingResults: 0,
      error: undefined, coordinators: [], replicaSet: [], coordinatorCrashesMs: [], recoveriesMs: [], submitterLost: false,
    })
  }

  get (jobId: string): JobEntry | undefined { return this.jobs.get(jobId) }

  violation (text: string): void {
    if (this.violations.length < Ledger.VIOLATIONS_MAX) this.violations.push(text)
  }

  coordinated (jobId: string, node: number, term: number, replicaSet: readonly number[], atMs: number): void {
    const e = this.jobs.get(jobId)
    if (e === undefined) return
    if (e.state === 'pending') e.state = 'running'
    e.coordinators.push({ node, term, atMs })
    e.replicaSet = [...replicaSet]
    const crashes = e.coordinatorCrashesMs.length
    if (crashes > e.recoveriesMs.length && e.coordinators.length > 1) e.recoveriesMs.push(atMs - (e.coordinatorCrashesMs[crashes - 1] as number))
  }

  /**
   * A coordinator published the job's final outcome (after its commit won), or, with `announce`,
   * a member made a decided record known (its coordinator died or yielded before publishing it).
   * The same term's record announced again is the same outcome, not a second one. True for the
   * job's first outcome.
   */
  published (jobId: string, node: number, term: number, atMs: number, outcome: { ok: true, results: readonly unknown[] } | { ok: false, error: string }, announce = false): boolean {
    const e = this.jobs.get(jobId)
    if (e === undefined) {
      this.violation(`unknown job ${jobId} published by n${node}`)
      return false
    }
    if (e.publishes > 0 && (announce || e.announced) && e.publishedTerm === term) return false
    e.publishes++
    if (e.publishes === 1) {
      e.publishedTerm = term
      e.announced = announce
    }
    if (e.publishes > 1) {
      this.violation(`job ${jobId} published ${e.publishes} times (latest by node ${node}, term ${term})`)
      return false
    }
    e.finalAtMs = atMs
    if (!outcome.ok) {
      e.state = 'failed'
      e.error = outcome.error
      return true
    }
    e.state = 'done'
    const results = outcome.results
    if (results.length !== e.plan.taskCount) e.missingResults = Math.abs(e.plan.taskCount - results.length)
    for (let i = 0; i < e.plan.taskCount; i++) {
      const v = results[i]
      if (v === undefined) e.missingResults++
      else if (v !== expectedResult(e.plan.seed, i)) e.wrongResults++
    }
    if (e.wrongResults > 0) this.violation(`job ${jobId}: ${e.wrongResults} task results differ from the expected values`)
    if (e.missingResults > 0) this.violation(`job ${jobId}: ${e.missingResults} task results missing`)
    return true
  }
}
