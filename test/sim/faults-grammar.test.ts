import { describe, expect, it } from 'vitest'
import { describeFaults, FaultSpecError, parseFaults } from '../../sim/faults.js'
import { parseSimArgs, SimUsageError } from '../../sim/cli-args.js'

describe('--faults grammar', () => {
  it('parses every item', () => {
    const plan = parseFaults('crash-coordinator@30s,partition@10s-20s:0.3,loss:0.01,churn:0.001/s,crash-node@500ms:2,crash-worker@1m:0.1,leave@5:1,restart:never')
    expect(plan.loss).toBe(0.01)
    expect(plan.churnPerSec).toBe(0.001)
    expect(plan.restartAfterMs).toBeUndefined()
    expect(plan.events.map(e => e.kind)).toEqual(['crash-node', 'leave', 'partition', 'crash-coordinator', 'crash-worker'])
    expect(describeFaults(plan)).toContain('partition@10s-20s:0.3')
  })

  it.each([
    ['crash-coordinator@soon', /fault "crash-coordinator@soon": "soon" is not a duration/],
    ['partition@20s-10s:0.3', /partition@20s-10s:0.3.*must end after it starts/],
    ['partition@10s-20s', /give the fraction/],
    ['loss:1.5', /fault "loss:1.5"/],
    ['churn:0.1', /churn is a per-node rate/],
    ['explode@3s', /unknown fault "explode"/],
    ['crash-node@3s:0', /count "0"/],
    ['nonsense', /fault "nonsense": expected NAME@TIME/],
  ])('rejects %s naming the bad part', (spec, message) => {
    expect(() => parseFaults(spec)).toThrow(FaultSpecError)
    expect(() => parseFaults(spec)).toThrow(message)
  })

  it('CLI flags are parsed and bad ones named', () => {
    expect(parseSimArgs(['--arch', 'all', '--sweep', '10,100', '--seed', '9', '--no-charts'])).toEqual({ arch: 'all', sweep: '10,100', seed: 9, charts: false })
    expect(() => parseSimArgs(['--nodes', 'many'])).toThrow(SimUsageError)
    expect(() => parseSimArgs(['--nodes', 'many'])).toThrow(/^--nodes must be a whole number, got "many"$/)
    expect(() => parseSimArgs(['--colour', 'red'])).toThrow(/^unknown option '--colour'$/)
    expect(parseSimArgs(['--help'])).toEqual({ help: true })
  })
})
