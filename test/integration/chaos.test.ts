import { describe, expect, it } from 'vitest'
import { runChaos } from '../../chaos/run.js'
import { planFaults } from '../../chaos/schedule.js'

// A short chaos run (the long one is `npm run chaos`): real processes, seeded faults.
describe('chaos', () => {
  it('the same seed plans the same faults', () => {
    expect(planFaults(42, 120_000)).toEqual(planFaults(42, 120_000))
    expect(planFaults(42, 120_000)).not.toEqual(planFaults(43, 120_000))
  })

  it('partitions are planned only when asked for, from the same seed', () => {
    expect(planFaults(7, 600_000).some(f => f.kind === 'partition')).toBe(false)
    expect(planFaults(7, 600_000, undefined, undefined, true).some(f => f.kind === 'partition')).toBe(true)
  })

  // Each node in its own network namespace (CI runs as root), so partitions are real cuts.
  it('a minute of kills, pauses, restarts and partitions loses no job and yields no wrong or duplicate result', async () => {
    const t0 = Date.now()
    const report = await runChaos({ nodes: 5, seed: 5, durationMs: 50_000, concurrency: 2, tasksPerJob: 12, taskMs: 150, jobDeadlineMs: 120_000, partitions: true, log: line => process.stdout.write(`chaos +${((Date.now() - t0) / 1000).toFixed(1)} s: ${line}\n`) })
    process.stdout.write(report.table)
    expect(report.faults.length).toBeGreaterThanOrEqual(3)
    expect(report.faults.some(f => f.kind === 'partition')).toBe(true)
    expect(report.submitted).toBeGreaterThanOrEqual(5)
    expect(report.lost).toBe(0)
    expect(report.wrong).toBe(0)
    expect(report.duplicates).toBe(0)
    expect(report.correct).toBe(report.submitted)
  }, 600_000)
})
