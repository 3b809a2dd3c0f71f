import { describe, expect, it } from 'vitest'
import type { RetryPolicy } from '../../src/jobs/job-spec.js'
import { Scheduler, type SchedulerEffect, type WorkerView } from '../../src/jobs/scheduler.js'
import { seededRandom } from '../../src/util/prng.js'

// A job's retry policy (the module's `retries` and `retryOn`), and the rule that a task that
// throws the same error twice is not run a third time: the bug is in its code, not its node.

type Assign = Extract<SchedulerEffect, { type: 'assign' }>
type Failed = Extract<SchedulerEffect, { type: 'jobFailed' }>
const worker = (peerId: string): WorkerView => ({ peerId, slotsTotal: 1, slotsFree: 1, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' })

/** Fails task 0 with each [kind, message] in turn; the attempts run and the job's failure, if it failed. */
function run (failures: Array<[string, string]>, retry?: RetryPolicy): { attempts: number, failed?: Failed } {
  const s = new Scheduler({ shortTaskBelowMs: 0, maxAttempts: 3 }, seededRandom(3))
  s.step({ type: 'workers', workers: [worker('A'), worker('B'), worker('C')] }, 0)
  let a = s.step({ type: 'addJob', jobId: 'j', taskCount: 1, ...(retry !== undefined ? { retry } : {}) }, 0).find((e): e is Assign => e.type === 'assign')
  let attempts = 0
  for (const [kind, message] of failures) {
    if (a === undefined) break
    attempts++
    const out = s.step({ type: 'taskFailed', jobId: 'j', taskIndex: 0, attemptId: a.attemptId, error: `${kind}: ${message}`, kind, stack: `Error: ${message}\n    at map (job.mjs:3:9)` }, attempts)
    const failed = out.find((e): e is Failed => e.type === 'jobFailed')
    if (failed !== undefined) return { attempts, failed }
    a = out.find((e): e is Assign => e.type === 'assign')
  }
  return { attempts }
}

describe('retry policy', () => {
  const boom = (n: number): Array<[string, string]> => Array.from({ length: n }, () => ['threw', 'boom'])
  const varied = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => ['threw', `boom ${i}`])
  const table: Array<[string, Array<[string, string]>, RetryPolicy | undefined, number, string | undefined]> = [
    ['the same error twice: not run a third time', boom(5), undefined, 2, 'the same error twice'],
    ['different errors: the node default of 3 attempts', varied(5), undefined, 3, undefined],
    ['retries: 0 — one attempt', varied(5), { retries: 0 }, 1, undefined],
    ['retries: 5 — six attempts of changing errors', varied(9), { retries: 5 }, 6, undefined],
    ['retries: 5, the same error twice still stops it', boom(9), { retries: 5 }, 2, 'the same error twice'],
    ['a kind the job does not retry fails at once', [['oom', 'out of memory'], ['oom', 'again']], { on: ['timeout'] }, 1, 'the job retries only timeout'],
    ['a kind the job retries is run again', [['timeout', 'slow'], ['timeout', 'slow'], ['timeout', 'slow']], { on: ['timeout'] }, 3, undefined],
    ['timeouts alike are not taken for a bug', [['timeout', 'slow'], ['timeout', 'slow'], ['timeout', 'slow']], undefined, 3, undefined],
  ]
  for (const [what, failures, retry, attempts, notRetried] of table) {
    it(what, () => {
      const r = run(failures, retry)
      expect(r.attempts).toBe(attempts)
      expect(r.failed?.failure?.attempts).toBe(attempts)
      expect(r.failed?.failure?.notRetried).toBe(notRetried)
    })
  }

  it('the failure carries the task\'s kind, message, remote stack and node; the error says why it stopped', () => {
    const { failed } = run(boom(2))
    expect(failed?.failure).toMatchObject({ taskIndex: 0, kind: 'threw', message: 'boom', stack: 'Error: boom\n    at map (job.mjs:3:9)', peerId: expect.any(String) })
    expect(failed?.error).toBe('Task 0 failed after 2 attempts (not run again: the same error twice): threw: boom')
  })
})
