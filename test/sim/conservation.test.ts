import { describe, expect, it } from 'vitest'
import { summarize } from '../../sim/metrics/summary.js'
import { expectedResult } from '../../sim/workload/task-values.js'
import { run, spec } from './helpers.js'

describe('conservation', () => {
  it('every task of every job completes exactly once with the right result despite crashes, executor deaths and loss', () => {
    const w = run(spec('p2p', 16, 'multi', { tasks: 800, faults: 'crash-node@5s:2,crash-worker@7s:3,loss:0.02,restart:8s' }))
    const m = summarize(w, '')
    expect(w.ledger.violations).toEqual([])
    expect(m.jobsLost).toBe(0)
    expect(m.jobsDone).toBe(m.jobs)
    for (const e of w.ledger.jobs.values()) {
      expect(e.publishes).toBe(1)
      expect(e.wrongResults).toBe(0)
      expect(e.missingResults).toBe(0)
    }
    // Executions = used results + the wasted ones; nothing is counted twice or dropped.
    expect(m.tasksDone).toBe(m.tasks)
    expect(m.taskExecutions).toBe(m.tasksDone + m.wastedExecutions)
    expect(m.taskExecutions).toBeGreaterThanOrEqual(m.tasks)
  })

  it('work a scenario loses is counted as lost, per job and per task', () => {
    const w = run(spec('master-slave', 12, 'cpu', { tasks: 200, faults: 'crash-master@6s,restart:never' }))
    const m = summarize(w, '')
    expect(m.jobsLost).toBeGreaterThan(0)
    const lostTasks = [...w.ledger.jobs.values()].filter(e => e.state !== 'done' && e.state !== 'failed').reduce((s, e) => s + e.plan.taskCount, 0)
    expect(m.tasksLost).toBe(lostTasks)
    expect(m.jobsDone + m.jobsFailed + m.jobsLost).toBe(m.jobs)
    expect(w.ledger.violations).toEqual([])
  })

  it('the checker sees a wrong result', () => {
    const w = run({ ...spec('p2p', 8, 'tiny', { tasks: 200 }), inject: 'wrong-result' })
    const first = [...w.ledger.jobs.values()][0]!
    expect(first.wrongResults).toBe(1)
    expect(w.ledger.violations.join('\n')).toContain(first.plan.jobId)
    expect(expectedResult(first.plan.seed, 0)).not.toBe(expectedResult(first.plan.seed, 1))
  })
})
