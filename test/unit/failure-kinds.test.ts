import { describe, expect, it } from 'vitest'
import { describeFailureKind, FAILURE_KIND_NAMES, isFailureKind } from '../../src/jobs/failure-kinds.js'
import { RETRYABLE_KINDS } from '../../src/jobs/job-spec.js'
import { CRASH_KINDS } from '../../src/jobs/scheduler-config.js'
import { ABORTED_KIND, RETURNED_KIND, STALE_TERM_KIND } from '../../src/jobs/worker-core.js'

// One enum of failure kinds, end to end: every kind a part of the mesh names is in it.

describe('failure kinds', () => {
  it('every kind a core names is one of them, and says what it means', () => {
    for (const kind of [...RETRYABLE_KINDS, ...CRASH_KINDS, ABORTED_KIND, RETURNED_KIND, STALE_TERM_KIND]) {
      expect(isFailureKind(kind), kind).toBe(true)
      expect(describeFailureKind(kind)).not.toBe('unknown')
    }
  })
  it('an unknown kind is not one', () => {
    expect(isFailureKind('made-up')).toBe(false)
    expect(isFailureKind('toString')).toBe(false)
    expect(describeFailureKind('made-up')).toBe('unknown')
    expect(new Set(FAILURE_KIND_NAMES).size).toBe(FAILURE_KIND_NAMES.length)
  })
})
