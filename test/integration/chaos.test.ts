import { describe, expect, it } from 'vitest'
import { runChaos } from '../../chaos/run.js'
import { planFaults } from '../../chaos/schedule.js'

// A short chaos run (the long one is `npm run chaos`): real processes, seeded faults.
describe('chaos', () => {
  it('the same seed plans the same faults', () => {
    expect(planFaults(42, 120_000)).toEqual(planFaults(42, 120_000))
    expect(planFaults(42, 120_000)).not.toEqual(planFaults(43, 120_000))
  })

  it('a minute of kills, pauses and restarts loses no job and yields no wrong or duplicate result', async () => {
    const report = await runChaos({ nodes: 5, seed: 3, durationMs: 40_000, concurrency: 2, tasksPerJob: 12, taskMs: 150, jobDeadlineMs: 90_000 })
    process.stdout.write(report.table)
    expect(report.faults.length).toBeGreaterThanOrEqual(3)
    expect(report.submitted).toBeGreaterThanOrEqual(5)
    expect(report.lost).toBe(0)
    expect(report.wrong).toBe(0)
    expect(report.duplicates).toBe(0)
    expect(report.correct).toBe(report.submitted)
  }, 600_000)
})
