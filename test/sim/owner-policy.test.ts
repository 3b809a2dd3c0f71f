import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { simCommand } from '../../sim/command.js'
import { summarize } from '../../sim/metrics/summary.js'
import { run, spec } from './helpers.js'

// The owners' load workload under the desktop and dedicated policies, both driven by the real
// owner-policy core: desktop takes far less of the owners' time for the same work finished.

describe('owner policies in the simulator', () => {
  const both = (seed: number) => (['desktop', 'dedicated'] as const).map(policy => {
    const w = run({ ...spec('p2p', 40, 'owner', { tasks: 1500, seed }), ownerPolicy: policy })
    return { w, m: summarize(w, '') }
  })

  it('desktop steals much less owner time than dedicated, and both finish every job correctly', () => {
    const [desktop, dedicated] = both(3)
    for (const { w, m } of [desktop!, dedicated!]) {
      expect(w.ledger.violations).toEqual([])
      expect(m.jobsDone).toBe(m.jobs)
      expect(m.tasksDone).toBe(m.tasks)
      expect(m.ownerBusyS).toBeGreaterThan(0)
    }
    expect(dedicated!.m.ownerStolenCpuS).toBeGreaterThan(0)
    expect(desktop!.m.ownerStolenCpuS).toBeLessThan(dedicated!.m.ownerStolenCpuS / 3)
    expect(desktop!.m.policy).toBe('desktop')
    expect(dedicated!.m.arch).toBe('p2p/dedicated')
  })

  it('is deterministic: the same seed gives the same figures', () => {
    const a = both(5).map(r => [r.m.ownerStolenCpuS, r.m.makespanS, r.m.events])
    const b = both(5).map(r => [r.m.ownerStolenCpuS, r.m.makespanS, r.m.events])
    expect(a).toEqual(b)
  })

  it('the report puts both policies side by side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshwork-sim-owner-'))
    try {
      const out = await simCommand({ workload: 'owner', nodes: 20, tasks: 400, out: dir, charts: false }, { log: () => {} })
      expect(out.exitCode).toBe(0)
      expect(out.runs.map(r => r.arch)).toEqual(['p2p/desktop', 'p2p/dedicated'])
      const md = readFileSync(join(dir, 'report.md'), 'utf8')
      expect(md).toMatch(/## Owners' time: stolen against work finished/)
      expect(md).toMatch(/\| p2p\/desktop \| 20 \| desktop \|/)
      expect(md).toMatch(/\| p2p\/dedicated \| 20 \| dedicated \|/)
      await expect(simCommand({ workload: 'owner', policy: 'laptop' }, { log: () => {} })).rejects.toThrow(/--policy must be desktop, dedicated or both, got "laptop"/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
