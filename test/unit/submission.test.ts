import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { replicated, Submissions, type SubmissionEffect } from '../../src/jobs/submission.js'

// The submitter's core alone: when a job is sent again, to whom, under which term, and when
// the submitter lets go of it.

type Rec = Pick<JobRecord, 'state' | 'replicated'>

function setup (rank = ['C1', 'C2', 'C3']) {
  const boots = new Map(rank.map(p => [p, `boot-${p}`]))
  const records = new Map<string, Rec>()
  const core = new Submissions<string>({ liveBoot: p => boots.get(p), rank: () => rank, record: id => records.get(id) }, { acceptTimeoutMs: 10_000 })
  return { core, boots, records }
}

const submits = (effects: Array<SubmissionEffect<string>>): Array<{ to: string, term: number }> =>
  effects.flatMap(e => e.type === 'submit' ? [{ to: e.to, term: e.term }] : [])

describe('submissions', () => {
  it('sends again under the next odd term to the next live candidate when the coordinator dies', () => {
    const { core, boots } = setup()
    expect(submits(core.submit('j', 'payload', 'C1', undefined, 0))).toEqual([{ to: 'C1', term: 1 }])
    core.onAccepted('C1', 'j', 1)
    expect(core.tick(100_000)).toEqual([]) // accepted and alive: wait, however long
    boots.delete('C1')
    const out = core.tick(100_100)
    expect(submits(out)).toEqual([{ to: 'C2', term: 3 }])
    expect(out).toContainEqual({ type: 'reassigned', jobId: 'j', coordinator: 'C2', term: 3 })
    boots.set('C2', 'boot-C2-restarted') // a restart forgets the job: same as dead
    expect(submits(core.tick(100_200))).toEqual([{ to: 'C3', term: 5 }])
  })

  it('passes over a live coordinator that never accepts in time; ignores acceptances of other terms', () => {
    const { core } = setup()
    core.submit('j', 'p', 'C1', undefined, 0)
    core.onAccepted('C1', 'j', 3)
    expect(core.tick(9_999)).toEqual([])
    expect(submits(core.tick(10_000))).toEqual([{ to: 'C2', term: 3 }])
    expect(core.onAccepted('C1', 'j', 1)).toEqual([]) // the old coordinator's late answer
    expect(core.onAccepted('C2', 'j', 3)).toEqual([{ type: 'answer', jobId: 'j' }])
  })

  it('lets go of the job only once its record says running and replicated (or final)', () => {
    const { core, records } = setup()
    core.submit('j', 'p', 'C1', undefined, 0)
    records.set('j', { state: 'running', replicated: false })
    expect(core.tick(1)).toEqual([])
    expect(core.size).toBe(1)
    records.set('j', { state: 'running', replicated: true })
    expect(core.tick(2)).toEqual([{ type: 'answer', jobId: 'j' }, { type: 'settled', jobId: 'j' }])
    expect(core.size).toBe(0)
    expect(replicated({ state: 'failed', replicated: false })).toBe(true)
    expect(replicated({ state: 'running' })).toBe(true) // an older node's record
    expect(replicated({ state: 'splitting', replicated: true })).toBe(false)
  })

  it('answers the client after both the acceptance and the standby copy, or without the standby after half the timeout', () => {
    const { core } = setup()
    core.submit('j', 'p', 'C1', 'C2', 0)
    expect(core.onAccepted('C1', 'j', 1)).toEqual([])
    expect(core.onStandbyAck('C2', 'j')).toEqual([{ type: 'answer', jobId: 'j' }])
    core.submit('k', 'p', 'C1', 'C2', 0)
    core.onAccepted('C1', 'k', 1)
    expect(core.tick(4_999).filter(e => e.type === 'answer')).toEqual([])
    expect(core.tick(5_000).filter(e => e.type === 'answer')).toEqual([{ type: 'answer', jobId: 'k' }])
  })

  it('a refusal fails the submission and is not retried elsewhere', () => {
    const { core, boots } = setup()
    core.submit('j', 'p', 'C1', undefined, 0)
    expect(core.onRejected('C2', 'j', 1, 'no')).toEqual([])
    expect(core.onRejected('C1', 'j', 1, 'not allowed')).toEqual([{ type: 'reject', jobId: 'j', error: 'C1 refused the job: not allowed' }, { type: 'settled', jobId: 'j' }])
    boots.delete('C1')
    expect(core.tick(100)).toEqual([])
  })
})
