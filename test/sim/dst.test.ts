import { describe, expect, it } from 'vitest'
import { simCommand } from '../../sim/command.js'
import { runDst } from '../../sim/dst/run-dst.js'

describe('DST mode', () => {
  it('passes on a few seeds: safety, then liveness after the heal', () => {
    for (const seed of [1, 2, 3]) {
      const out = runDst({ arch: 'p2p', nodes: 12, workload: 'multi', seed, tasks: 600 })
      expect(out.check.failures, `seed ${seed}: ${out.replay}`).toEqual([])
      expect(out.metrics.jobsDone + out.check.lostJobs).toBe(out.metrics.jobs)
    }
  })

  it('catches a deliberately wrong result and a double publish, and prints the seed to replay', async () => {
    const wrong = runDst({ arch: 'p2p', nodes: 12, workload: 'multi', seed: 1, tasks: 600, inject: 'wrong-result' })
    expect(wrong.check.ok).toBe(false)
    expect(wrong.check.failures.join('\n')).toMatch(/differ from the expected/)
    const twice = runDst({ arch: 'p2p', nodes: 12, workload: 'multi', seed: 1, tasks: 600, inject: 'double-publish' })
    expect(twice.check.ok).toBe(false)
    expect(twice.check.failures.join('\n')).toMatch(/published 2 times/)
    const lines: string[] = []
    const outcome = await simCommand({ mode: 'dst', seed: 5, nodes: 12, tasks: 600, inject: 'wrong-result' }, { log: l => lines.push(l) })
    expect(outcome.exitCode).toBe(1)
    expect(outcome.failedSeeds).toEqual([5])
    expect(lines.join('\n')).toContain('replay: node dist/sim/cli.js --mode dst --seed 5')
  })
})
