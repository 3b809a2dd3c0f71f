import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { opArbitrary, runHistory, type Op, type Outcome } from './replica-set-history.js'
import { CORE_RUNS } from './runs.js'

const run = (ops: Op[], seed: number): Outcome[] => runHistory(ops, seed).outcomes

// The job lifecycle cores of a whole replica set [C, A, B] on a network the history controls:
// messages delivered in any order, lost, nodes' views of each other flipping between alive and
// dead (a partition, a pause), time jumping. Whatever happens, the job has at most one outcome:
// every result published by a coordinator or announced by a member is the same record's term.
// Then everything heals and every message gets through: the job must have its outcome.
// (Takeovers are rare in these histories — a claim must start and win between the view flips
// and time jumps — so this mostly checks that no interleaving leaves the job stuck or throws;
// claims and terms have their own cases in test/unit/replica-holder.test.ts, DST and chaos.)

describe('job lifecycle: histories fuzzing once found stuck', () => {
  it('a backup that claimed while it saw its coordinator dead, after the heal', () => {
    const ops: Op[] = [{ op: 'see', node: 1, peer: 0, alive: false }, { op: 'work', pick: 0 }, { op: 'tick', node: 1, dtMs: 100 }, { op: 'tick', node: 1, dtMs: 6000 }]
    const outcomes = run(ops, 29)
    expect(new Set(outcomes.map(o => o.term)).size).toBe(1)
    for (const o of outcomes) expect(o.result).toBe('0,7,14')
  })
})

describe(`job lifecycle cores of a replica set under random delivery, loss and views (${CORE_RUNS} histories of up to 200 steps)`, () => {
  it('never throw, the job never has two outcomes, and it has one once the faults heal', () => {
    fc.assert(fc.property(fc.array(opArbitrary(false), { minLength: 1, maxLength: 200 }), fc.integer(), (ops, seed) => {
      const outcomes = run(ops, seed)
      const terms = new Set(outcomes.map(o => o.term))
      expect(terms.size).toBe(1)
      for (const o of outcomes) expect(o.result).toBe('0,7,14')
    }), { numRuns: CORE_RUNS })
  })
})
