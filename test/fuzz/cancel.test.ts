import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { opArbitrary, runHistory as run, type Run } from './replica-set-history.js'
import { CORE_RUNS } from './runs.js'

// The lifecycle histories of test/fuzz/lifecycle.test.ts — a replica set [C, A, B] on a network
// the history controls: delivery in any order, loss, views flipping, time jumping — with
// cancels from any member at any moment (meshwork cancel on that node: a tombstone there, sent
// to the others until acknowledged; src/jobs/replica-holder.ts). Whatever happens, the job
// has at most one outcome, and a 'done' one is the right result: a cancel never replaces a
// result, nor lets the job be reduced twice. After the heal, nobody coordinates the job any
// more, and it has an outcome unless a member holds it cancelled.

function check (r: Run): void {
  // At most one outcome: every publication and announcement is the same record.
  expect(new Set(r.outcomes.map(o => `${o.term}:${o.state}`)).size).toBeLessThanOrEqual(1)
  for (const o of r.outcomes) if (o.state === 'done') expect(o.result).toBe('0,7,14')
  if (r.outcomes.some(o => o.state === 'done')) expect(r.reduces).toBeGreaterThanOrEqual(1)
  // After the heal: nobody coordinates it, and it ended, or a member holds it cancelled.
  expect(r.coordinating).toEqual([])
  expect(r.outcomes.length > 0 || r.cancelled).toBe(true)
}

describe('cancel: histories', () => {
  it('a cancel on the coordinator before any fault: the job ends cancelled', () => {
    const r = run([{ op: 'cancel', node: 0 }], 1)
    check(r)
    expect(r.outcomes.map(o => o.state)).toContain('cancelled')
  })

  it('a cancel on a backup after the tasks ran and the coordinator is cut off: no second outcome', () => {
    const r = run([{ op: 'work', pick: 0 }, { op: 'work', pick: 0 }, { op: 'work', pick: 0 }, { op: 'see', node: 1, peer: 0, alive: false }, { op: 'see', node: 2, peer: 0, alive: false }, { op: 'cancel', node: 1 }, { op: 'tick', node: 1, dtMs: 6000 }, { op: 'tick', node: 2, dtMs: 6000 }], 5)
    check(r)
  })
})

describe(`cancel at any moment of the job lifecycle (${CORE_RUNS} histories of up to 200 steps)`, () => {
  it('never throws, never gives the job two outcomes or a wrong result, and leaves nothing running', () => {
    fc.assert(fc.property(fc.array(opArbitrary(true), { minLength: 1, maxLength: 200 }), fc.integer(), (ops, seed) => {
      check(run(ops, seed))
    }), { numRuns: CORE_RUNS })
  })
})
