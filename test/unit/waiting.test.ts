import { describe, expect, it } from 'vitest'
import type { WorkerView } from '../../src/jobs/scheduler-types.js'
import { waitingOf, type WaitingInput } from '../../src/jobs/waiting.js'
import { JobRecordSchema } from '../../src/jobs/job-spec.js'

const caps = (labels: Record<string, string> = {}, tools: string[] = []): NonNullable<WorkerView['caps']> => ({ tools, labels, memTotal: 8 * 2 ** 30, cpuCores: 4 })

function w (peerId: string, over: Partial<WorkerView> = {}): WorkerView {
  return { peerId, slotsTotal: 2, slotsFree: 2, cpuLoad: 0, memFree: 2 ** 30, accepting: true, status: 'alive', caps: caps(), ownerCpuLoad: 0, ...over }
}
const busyOwner = (load: number): Partial<WorkerView> => ({ accepting: false, ownerCpuLoad: load, yielding: { reason: 'owner-cpu', busyAbove: 0.5 } })
const outsideHours: Partial<WorkerView> = { accepting: false, yielding: { reason: 'hours' } }

const running = (workers: WorkerView[], over: Partial<WaitingInput> = {}): WaitingInput => ({ state: 'running', selfId: 'a', pending: 10, inFlight: 0, workers, ...over })

describe('why a job waits (waitingOf)', () => {
  const cases: Array<[string, WaitingInput, ReturnType<typeof waitingOf>]> = [
    ['every node yields to a busy owner',
      running([w('a', busyOwner(0.67)), w('b', busyOwner(0.6)), w('c', busyOwner(0.55))]),
      { reason: 'owners-busy', detail: '3/3 nodes yielding to their owners (owner CPU 67 % > 50 %)' }],
    ['yielding for different reasons',
      running([w('a', busyOwner(0.8)), w('b', outsideHours)]),
      { reason: 'owners-busy', detail: '2/2 nodes yielding to their owners (owner CPU 80 % > 50 %; outside --hours)' }],
    ['every accepting node is full',
      running([w('a', { slotsFree: 0 }), w('b', { slotsFree: 0 })]),
      { reason: 'no-free-slots', detail: 'no free slots: 4/4 busy on 2 nodes' }],
    ['full nodes and yielding ones',
      running([w('a', { slotsFree: 0 }), w('b', outsideHours)]),
      { reason: 'no-free-slots', detail: 'no free slots: 2/2 busy on 1 node; 1/2 yielding to their owners (outside --hours)' }],
    ['no live node offers the label',
      running([w('a'), w('b', { caps: caps({ zone: 'y' }) })], { requires: { labels: { zone: 'x' } } }),
      { reason: 'unsatisfiable', detail: 'needs zone=x: no live node offers what the job requires: missing labels.zone=x (on all 2 nodes)' }],
    ['the only capable node yields',
      running([w('a'), w('b', { caps: caps({ zone: 'x' }), ...outsideHours })], { requires: { labels: { zone: 'x' } } }),
      { reason: 'owners-busy', detail: '1/1 node offering zone=x yielding to their owners (outside --hours)' }],
    ['dead nodes do not count',
      running([w('a', { status: 'dead' }), w('b', { status: 'left' })]),
      { reason: 'no-workers', detail: 'no live node has slots to run tasks' }],
    ['a free node: not waiting (the scheduler places the task in a moment)',
      running([w('a', busyOwner(0.9)), w('b')]),
      undefined],
    ['tasks running: not waiting',
      running([w('a', busyOwner(0.9)), w('b', busyOwner(0.9))], { inFlight: 1 }),
      undefined],
    ['nothing pending: not waiting',
      running([w('a', busyOwner(0.9))], { pending: 0 }),
      undefined],
    ['a yielding coordinator splits anyway',
      { state: 'splitting', selfId: 'a', pending: 0, inFlight: 0, workers: [w('a', outsideHours), w('b')] },
      { reason: 'coordinator-yielding', detail: 'coordinator yielding to its owner (outside --hours): its split runs anyway at low priority' }],
    ['a yielding coordinator reduces anyway',
      { state: 'reducing', selfId: 'a', pending: 0, inFlight: 0, workers: [w('a', busyOwner(0.7)), w('b')] },
      { reason: 'coordinator-yielding', detail: 'coordinator yielding to its owner (owner CPU 70 % > 50 %): its reduce runs anyway at low priority' }],
    ['a draining coordinator is not yielding to an owner',
      { state: 'splitting', selfId: 'a', pending: 0, inFlight: 0, workers: [w('a', { accepting: false, yielding: { reason: 'draining' } })] },
      undefined],
    ['an accepting coordinator splitting: not waiting',
      { state: 'splitting', selfId: 'a', pending: 0, inFlight: 0, workers: [w('a')] },
      undefined],
    ['finished jobs never wait',
      { state: 'done', selfId: 'a', pending: 3, inFlight: 0, workers: [w('a', busyOwner(0.9))] },
      undefined],
  ]
  for (const [name, input, expected] of cases) {
    it(name, () => { expect(waitingOf(input)).toEqual(expected) })
  }

  it('the record carries it (an optional field of JobRecordSchema)', () => {
    const record = { jobId: 'j', kind: 'function', moduleName: 'm', state: 'running', coordinator: 'a', term: 0, submitter: 'a', priority: 'normal', tasks: 1, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0 }
    expect(JobRecordSchema.safeParse(record).success).toBe(true)
    expect(JobRecordSchema.safeParse({ ...record, waiting: { reason: 'no-free-slots', detail: 'no free slots' } }).success).toBe(true)
    expect(JobRecordSchema.safeParse({ ...record, waiting: { reason: 'bogus', detail: '' } }).success).toBe(false)
  })
})
