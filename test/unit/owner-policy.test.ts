import { describe, expect, it } from 'vitest'
import { inHours, nextRunFraction, OwnerPolicy, ownerPolicyConfig, OwnerPolicyError, parseHours, type OwnerPolicyEffect } from '../../src/jobs/owner-policy.js'

const NOON = 12 * 60

/** Feeds one sample per second from `fromMs` for `loads`, returning every effect with its time. */
function feed (p: OwnerPolicy, fromMs: number, loads: number[], extra: { consoleActive?: boolean, minuteOfDay?: number } = {}): Array<[number, OwnerPolicyEffect]> {
  const out: Array<[number, OwnerPolicyEffect]> = []
  loads.forEach((load, i) => {
    const t = fromMs + i * 1000
    for (const e of p.step({ type: 'sample', ownerCpuLoad: load, minuteOfDay: extra.minuteOfDay ?? NOON, ...(extra.consoleActive !== undefined ? { consoleActive: extra.consoleActive } : {}) }, t)) out.push([t, e])
  })
  return out
}

describe('owner policy core', () => {
  const desktop = (): OwnerPolicy => new OwnerPolicy(ownerPolicyConfig('desktop', { busyAbove: 0.5, idleBelow: 0.25, busyForMs: 3000, idleForMs: 5000, giveBackAfterMs: 20_000 }))

  it('desktop: yields only after the load stays above the threshold for busyForMs', () => {
    const p = desktop()
    // A spike of 2 s is tolerated.
    expect(feed(p, 0, [0.9, 0.9, 0.1, 0.1])).toEqual([])
    expect(p.view().accepting).toBe(true)
    // Above for 3 s: pause and stop accepting at the 4th sample (t = 3 s after the first above).
    const effects = feed(p, 10_000, [0.9, 0.9, 0.9, 0.9])
    expect(effects).toEqual([[13_000, { type: 'pause' }], [13_000, { type: 'accepting', accepting: false }]])
    expect(p.view()).toMatchObject({ mode: 'paused', accepting: false, ownerBusy: true, reason: 'owner-cpu' })
  })

  it('hysteresis: a load between the thresholds neither yields nor resumes', () => {
    const p = desktop()
    expect(feed(p, 0, Array(20).fill(0.4))).toEqual([])
    feed(p, 100_000, [0.9, 0.9, 0.9, 0.9])
    expect(p.view().ownerBusy).toBe(true)
    // Between the thresholds for a long time: still yielding.
    expect(feed(p, 104_000, Array(10).fill(0.4)).filter(([, e]) => e.type !== 'giveBack')).toEqual([])
    expect(p.view().accepting).toBe(false)
    // Below idleBelow for idleForMs (5 s): resume.
    // (The grace period ran out meanwhile: the first sample after it gives the tasks back.)
    const effects = feed(p, 200_000, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    expect(effects).toEqual([[200_000, { type: 'giveBack' }], [205_000, { type: 'resume' }], [205_000, { type: 'accepting', accepting: true }]])
  })

  it('a dip below idleBelow shorter than idleForMs does not resume', () => {
    const p = desktop()
    feed(p, 0, [0.9, 0.9, 0.9, 0.9])
    expect(feed(p, 4000, [0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1])).toEqual([])
    expect(p.view().ownerBusy).toBe(true)
  })

  it('pause → give-back after the grace period, once, then resume when the owner leaves', () => {
    const p = desktop()
    const paused = feed(p, 0, [0.9, 0.9, 0.9, 0.9]) // pause at 3 s
    expect(paused[0]).toEqual([3000, { type: 'pause' }])
    const during = feed(p, 4000, Array(30).fill(0.95)) // 4 s .. 33 s
    expect(during).toEqual([[23_000, { type: 'giveBack' }]])
    expect(p.view().mode).toBe('returned')
    const after = feed(p, 40_000, Array(6).fill(0))
    expect(after.map(([t, e]) => [t, e.type])).toEqual([[45_000, 'resume'], [45_000, 'accepting']])
    expect(p.view()).toMatchObject({ mode: 'running', accepting: true })
  })

  it('dedicated ignores owner load but not the hours window', () => {
    const p = new OwnerPolicy(ownerPolicyConfig('dedicated', { hours: parseHours('19:00-07:00') }))
    expect(feed(p, 0, Array(10).fill(1), { minuteOfDay: 20 * 60 })).toEqual([])
    // 07:00 ends the window: yield at once.
    expect(feed(p, 20_000, [0], { minuteOfDay: 7 * 60 })).toEqual([[20_000, { type: 'pause' }], [20_000, { type: 'accepting', accepting: false }]])
    expect(p.view().reason).toBe('hours')
    // Back inside the window: resumes after idleForMs.
    const back = feed(p, 100_000, [0, 0, 0, 0], { minuteOfDay: 19 * 60 })
    expect(back.map(([t, e]) => [t, e.type])).toEqual([[100_000, 'giveBack'], [103_000, 'resume'], [103_000, 'accepting']])
  })

  it('console activity counts as a busy owner on desktop, not on dedicated', () => {
    const p = desktop()
    const effects = feed(p, 0, [0, 0, 0, 0], { consoleActive: true })
    expect(effects.map(([, e]) => e.type)).toEqual(['pause', 'accepting'])
    expect(p.view().reason).toBe('console')
    const d = new OwnerPolicy(ownerPolicyConfig('dedicated'))
    expect(feed(d, 0, [0, 0, 0, 0, 0], { consoleActive: true })).toEqual([])
  })

  it('drain stops accepting for good without pausing', () => {
    const p = desktop()
    expect(p.step({ type: 'drain' }, 5)).toEqual([{ type: 'accepting', accepting: false }])
    expect(feed(p, 10, Array(30).fill(0))).toEqual([])
    expect(p.view()).toMatchObject({ accepting: false, draining: true, reason: 'draining', mode: 'running' })
  })

  it('time never goes backwards inside the core', () => {
    const p = desktop()
    feed(p, 10_000, [0.9, 0.9])
    // A sample stamped earlier is taken as "now": the busy period does not shrink or grow.
    expect(p.step({ type: 'sample', ownerCpuLoad: 0.9, minuteOfDay: NOON }, 0)).toEqual([])
    expect(p.step({ type: 'sample', ownerCpuLoad: 0.9, minuteOfDay: NOON }, 13_000).map(e => e.type)).toEqual(['pause', 'accepting'])
  })

  it('hours parsing and matching, with errors naming the flag', () => {
    expect(parseHours('19:00-07:00')).toEqual({ startMin: 1140, endMin: 420 })
    expect(parseHours('9:30-17:45')).toEqual({ startMin: 570, endMin: 1065 })
    expect(inHours(parseHours('19:00-07:00'), 23 * 60)).toBe(true)
    expect(inHours(parseHours('19:00-07:00'), 3 * 60)).toBe(true)
    expect(inHours(parseHours('19:00-07:00'), 7 * 60)).toBe(false)
    expect(inHours(parseHours('09:00-17:00'), 12 * 60)).toBe(true)
    expect(inHours(parseHours('09:00-17:00'), 18 * 60)).toBe(false)
    expect(inHours(undefined, 0)).toBe(true)
    for (const bad of ['19-07', '25:00-07:00', '19:00-07:60', 'night', '10:00-10:00', '']) {
      expect(() => parseHours(bad)).toThrow(OwnerPolicyError)
      expect(() => parseHours(bad)).toThrow(/--hours/)
    }
  })

  it('config errors name what is wrong', () => {
    expect(() => ownerPolicyConfig('laptop')).toThrow(/--policy must be desktop or dedicated, got "laptop"/)
    expect(() => ownerPolicyConfig('desktop', { busyAbove: 1.5 })).toThrow(/busyAbove/)
    expect(() => ownerPolicyConfig('desktop', { busyAbove: 0.3, idleBelow: 0.6 })).toThrow(/idleBelow \(0.6\) must not exceed busyAbove/)
    expect(() => ownerPolicyConfig('desktop', { giveBackAfterMs: -1 })).toThrow(/giveBackAfterMs/)
  })

  it('--max-cpu duty cycle converges on the target share', () => {
    // A toy plant: executors that would use 100% of the machine use `fraction` of it.
    let fraction = 1
    for (let i = 0; i < 30; i++) fraction = nextRunFraction(fraction, fraction * 1.0, 0.25)
    expect(fraction).toBeGreaterThan(0.2)
    expect(fraction).toBeLessThan(0.3)
    // Idle executors: the fraction opens up again.
    expect(nextRunFraction(0.1, 0, 0.25)).toBeGreaterThan(0.1)
    expect(nextRunFraction(1, 0, 0.25)).toBe(1)
    // Bounded steps.
    expect(nextRunFraction(1, 1, 0.01)).toBe(0.5)
  })
})

describe('owner probe helpers', () => {
  it('tells Meshwork executors and daemons (of any node) from the owner\'s processes', async () => {
    const { isMeshProcess } = await import('../../src/node/host/owner-probe.js')
    expect(isMeshProcess(['/usr/bin/node', '--max-old-space-size=512', '/x/dist/src/node/executor/executor-child.js', '--meshwork-executor'])).toBe(true)
    expect(isMeshProcess(['/usr/bin/node', '/work/other/bin/meshwork.js', 'start', '--port', '0'])).toBe(true)
    expect(isMeshProcess(['meshwork', 'start'])).toBe(true)
    expect(isMeshProcess(['/usr/bin/node', '-e', 'for (;;) {}'])).toBe(false)
    expect(isMeshProcess(['/usr/bin/node', '/work/bin/meshwork.js', 'submit', 'start.mjs'])).toBe(false)
    expect(isMeshProcess(['make', '-j8'])).toBe(false)
  })

  it('finds tools on PATH from the configured list', async () => {
    const { findTools } = await import('../../src/node/host/capabilities.js')
    const { mkdtempSync, writeFileSync, chmodSync, rmSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(join(tmpdir(), 'meshwork-tools-'))
    try {
      writeFileSync(join(dir, 'cc'), '#!/bin/sh\n')
      chmodSync(join(dir, 'cc'), 0o755)
      writeFileSync(join(dir, 'make'), 'not executable')
      expect(findTools(['cc', 'make', 'rustc'], dir)).toEqual(['cc'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
