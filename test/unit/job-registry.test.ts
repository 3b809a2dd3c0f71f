import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { JobRegistry } from '../../src/node/daemon/job-registry.js'

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
  it('a cancel shown here gives way to a result committed elsewhere, and never replaces one', () => {
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    r.upsert(record('cancelled', 2), 0)
    expect(r.upsert(record('done', 1, { result: 42 }), 1)).toBe(true)
    expect(r.upsert(record('cancelled', 4), 2)).toBe(false)
    expect(r.upsert(record('failed', 4), 3)).toBe(false)
    expect(r.get('j1')).toMatchObject({ state: 'done', term: 1, result: 42 })
    const f = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    f.upsert(record('cancelled', 3), 0)
    expect(f.upsert(record('failed', 1, { error: 'Task 3 crashed its executor or node on 2 nodes' }), 1)).toBe(true)
    expect(f.upsert(record('cancelled', 5), 2)).toBe(false)
    expect(f.get('j1')).toMatchObject({ state: 'failed', term: 1 })
  })
})

describe('waiting for a record to change (long polls)', () => {
  it('wakes on an accepted upsert of that job only, or when the wait is up', async () => {
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100 })
    r.upsert(record('running', 2), 0)
    let woke = false
    const waiting = r.changed('j1', 60_000).then(() => { woke = true })
    expect(r.waitingCount).toBe(1)
    r.upsert(record('running', 1, { jobId: 'other' }), 1) // another job
    expect(r.upsert(record('running', 1), 2)).toBe(false) // refused: an older term
    await new Promise(resolve => setImmediate(resolve))
    expect(woke).toBe(false)
    r.upsert(record('running', 2, { done: 1 }), 3)
    await waiting
    expect(woke).toBe(true)
    expect(r.waitingCount).toBe(0)
    const t0 = performance.now()
    await r.changed('j1', 30)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25)
    expect(r.waitingCount).toBe(0)
  })
})
