import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { JobRegistry } from '../../src/node/job-registry.js'

const record = (state: JobRecord['state'], term: number, extra: Partial<JobRecord> = {}): JobRecord => ({
  jobId: 'j1', kind: 'function', moduleName: 'm', state, coordinator: `c${term}`, term, submitter: 's', priority: 'normal',
  tasks: 4, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0, ...extra,
} as JobRecord)

describe('job registry', () => {
  it('a later term replaces an unfinished record; an earlier one does not', () => {
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    r.upsert(record('running', 1), 0)
    expect(r.upsert(record('running', 2), 1)).toBe(true)
    expect(r.upsert(record('running', 1, { done: 3 }), 2)).toBe(false)
    expect(r.get('j1')).toMatchObject({ term: 2, done: 0 })
  })
  it('a final record of an earlier term replaces the unfinished record of a later one (the first coordinator of a resubmitted job finished it)', () => {
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    r.upsert(record('splitting', 2), 0)
    expect(r.upsert(record('done', 1, { result: 42 }), 1)).toBe(true)
    expect(r.get('j1')).toMatchObject({ state: 'done', term: 1, result: 42 })
    expect(r.stale(10_000, 5000)).toEqual([])
  })
  it('a final record is never replaced by an unfinished one, whatever its term', () => {
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    r.upsert(record('done', 1, { result: 42 }), 0)
    expect(r.upsert(record('running', 1), 1)).toBe(false)
    expect(r.upsert(record('running', 3), 2)).toBe(false)
    expect(r.get('j1')).toMatchObject({ state: 'done', term: 1 })
  })
})
