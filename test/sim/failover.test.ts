import { describe, expect, it } from 'vitest'
import { summarize } from '../../sim/metrics/summary.js'
import { World } from '../../sim/world.js'
import { run, spec } from './helpers.js'

// cpu: 2 jobs of 4-second tasks, so the crash at 9 s lands mid-job.
const CRASH_MS = 9000
const faults = `crash-coordinator@${CRASH_MS / 1000}s,restart:never`

describe('a coordinator crash', () => {
  it('stops all master-slave progress for good', () => {
    const w = new World(spec('master-slave', 20, 'cpu', { tasks: 400, faults }))
    let atCrash = -1
    w.sim.at(CRASH_MS + 1, () => { atCrash = w.metrics.tasksAccepted })
    w.run()
    const m = summarize(w, '')
    expect(w.stopReason).toBe('stalled')
    expect(m.jobsDone).toBe(0)
    expect(m.jobsLost).toBe(m.jobs)
    expect(atCrash).toBeGreaterThan(0)
    expect(w.metrics.tasksAccepted).toBe(atCrash)
    // The workers kept running what they had, into the void.
    expect(m.taskExecutions).toBeGreaterThan(atCrash)
  })

  it('is recovered by a p2p backup holding the replicated progress', () => {
    const w = run(spec('p2p', 20, 'cpu', { tasks: 400, faults }))
    const m = summarize(w, '')
    expect(w.stopReason).toBe('done')
    expect(m.jobsDone).toBe(m.jobs)
    expect(m.jobsLost).toBe(0)
    expect(w.ledger.violations).toEqual([])
    const taken = [...w.ledger.jobs.values()].filter(e => e.coordinators.length > 1)
    expect(taken.length).toBeGreaterThan(0)
    for (const e of taken) {
      expect(e.coordinators[1]!.term).toBeGreaterThan(e.coordinators[0]!.term)
      expect(e.replicaSet).toContain(e.coordinators[1]!.node)
    }
    expect(m.recoveries).toBeGreaterThan(0)
    // Detected (suspect after 2.5 s of silence) and claimed by a majority well within 10 s.
    expect(m.recoveryMsMean).toBeLessThan(10_000)
    // Replicated results were not re-run: far fewer executions than a restart from zero.
    expect(m.wastedExecutions).toBeLessThan(m.tasks / 2)
  })
})
