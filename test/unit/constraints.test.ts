import { describe, expect, it } from 'vitest'
import { RequiresSchema } from '../../src/jobs/job-spec.js'
import { missingOn, satisfies, unsatisfiable, type NodeCaps } from '../../src/jobs/requires.js'
import { Scheduler, type SchedulerEffect, type SchedulerEvent, type WorkerView } from '../../src/jobs/scheduler.js'
import { seededRandom } from '../../src/util/prng.js'

const GiB = 1024 ** 3
const caps = (o: Partial<NodeCaps> = {}): NodeCaps => ({ tools: [], labels: {}, memTotal: 4 * GiB, cpuCores: 2, ...o })
const worker = (peerId: string, c: NodeCaps | undefined, o: Partial<WorkerView> = {}): WorkerView =>
  ({ peerId, slotsTotal: 1, slotsFree: 1, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive', ...(c !== undefined ? { caps: c } : {}), ...o })
type Assign = Extract<SchedulerEffect, { type: 'assign' }>
const assigns = (effects: SchedulerEffect[]): Assign[] => effects.filter((e): e is Assign => e.type === 'assign')
const ok = (a: Assign): SchedulerEvent => ({ type: 'taskOk', jobId: a.jobId, taskIndex: a.taskIndex, attemptId: a.attemptId, result: a.taskIndex })

describe('constraint matching', () => {
  it('names every requirement a node lacks', () => {
    const node = caps({ tools: ['cc', 'make'], labels: { zone: 'a' } })
    expect(missingOn({ tools: ['cc'] }, node)).toEqual([])
    expect(missingOn({ tools: ['cc', 'clang'], labels: { zone: 'b', gpu: '1' }, memoryMB: 8192, cpus: 4 }, node))
      .toEqual(['tools.clang', 'labels.zone=b', 'labels.gpu=1', 'memoryMB>=8192', 'cpus>=4'])
    expect(satisfies({ memoryMB: 4096, cpus: 2 }, node)).toBe(true)
    expect(satisfies({ memoryMB: 4097 }, node)).toBe(false)
    expect(satisfies(undefined, undefined)).toBe(true)
    expect(satisfies({ tools: ['cc'] }, undefined)).toBe(false)
    // An empty requirement asks for nothing.
    expect(satisfies({ tools: [], labels: {}, memoryMB: 0 }, undefined)).toBe(true)
  })

  it('explains an unsatisfiable job: what no node has, or that no single node has it all', () => {
    const nodes = [caps({ tools: ['cc'] }), caps({ labels: { zone: 'b' } })]
    expect(unsatisfiable({ tools: ['cc'] }, nodes)).toBeUndefined()
    expect(unsatisfiable({ tools: ['rustc'], labels: { zone: 'b' } }, nodes)).toMatch(/missing tools\.rustc \(on all 2 nodes\)/)
    expect(unsatisfiable({ tools: ['cc'], labels: { zone: 'b' } }, nodes)).toMatch(/no single live node offers everything.*tools\.cc, labels\.zone=b/)
    expect(unsatisfiable({ cpus: 64 }, [])).toMatch(/no live node can run tasks.*cpus>=64/)
  })

  it('the requires schema rejects bad shapes, naming the field', () => {
    const bad = [
      [{ tools: 'cc' }, 'tools'],
      [{ labels: ['zone=b'] }, 'labels'],
      [{ memoryMB: 'lots' }, 'memoryMB'],
      [{ cpus: -1 }, 'cpus'],
      [{ gpu: true }, ''],
    ] as const
    for (const [value, field] of bad) {
      const r = RequiresSchema.safeParse(value)
      expect(r.success).toBe(false)
      const issue = r.error!.issues[0]!
      if (field !== '') expect(issue.path[0]).toBe(field)
      else expect(issue.code).toBe('unrecognized_keys')
    }
  })
})

describe('constrained placement in the scheduler core', () => {
  const make = (): Scheduler => new Scheduler({}, seededRandom(7))

  it('places a constrained job only on nodes that satisfy it', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', caps()), worker('B', caps({ labels: { zone: 'b' } })), worker('C', caps())] }, 0)
    const placed: Assign[] = []
    let pending = assigns(s.step({ type: 'addJob', jobId: 'z', taskCount: 20, requires: { labels: { zone: 'b' } } }, 0))
    for (let t = 1; pending.length > 0; t++) {
      placed.push(...pending)
      pending = pending.flatMap(a => assigns(s.step(ok(a), t)))
    }
    expect(placed).toHaveLength(20)
    expect(new Set(placed.map(a => a.peerId))).toEqual(new Set(['B']))
    expect(s.job('z')?.state).toBe('done')
  })

  it('refuses at once a job no worker in view can satisfy, naming what is missing', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', caps({ tools: ['make'] })), worker('B', undefined)] }, 0)
    const effects = s.step({ type: 'addJob', jobId: 'cc', taskCount: 5, requires: { tools: ['cc'] } }, 0)
    expect(effects).toEqual([{ type: 'jobFailed', jobId: 'cc', taskIndex: null, error: expect.stringMatching(/missing tools\.cc/) }])
    expect(s.job('cc')?.state).toBe('failed')
  })

  it('a constrained job waiting for its node does not block the jobs behind it', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', caps()), worker('B', caps({ tools: ['cc'] }))] }, 0)
    const first = assigns(s.step({ type: 'addJob', jobId: 'cc', taskCount: 10, requires: { tools: ['cc'] } }, 0))
    // B's window (2) is full of cc tasks; A cannot take them.
    expect(first.map(a => a.peerId)).toEqual(['B', 'B'])
    const other = assigns(s.step({ type: 'addJob', jobId: 'any', taskCount: 4 }, 1))
    expect(other.map(a => a.peerId)).toEqual(['A', 'A'])
  })

  it('fails a running constrained job when its last capable node leaves the view', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', caps()), worker('B', caps({ labels: { gpu: '1' } }))] }, 0)
    assigns(s.step({ type: 'addJob', jobId: 'g', taskCount: 10, requires: { labels: { gpu: '1' } } }, 0))
    const effects = s.step({ type: 'workers', workers: [worker('A', caps()), worker('B', caps({ labels: { gpu: '1' } }), { status: 'dead' })] }, 1)
    expect(effects.filter(e => e.type === 'jobFailed')).toEqual([{ type: 'jobFailed', jobId: 'g', taskIndex: null, error: expect.stringMatching(/labels\.gpu=1/) }])
  })

  it('a returned task is re-queued without counting a failure, and not sent straight back', () => {
    const s = make()
    s.step({ type: 'workers', workers: [worker('A', undefined), worker('B', undefined)] }, 0)
    const [a0] = assigns(s.step({ type: 'addJob', jobId: 'j', taskCount: 1 }, 0))
    const back = assigns(s.step({ type: 'taskReturned', jobId: 'j', taskIndex: 0, attemptId: a0!.attemptId }, 10))
    expect(back).toHaveLength(1)
    expect(back[0]!.peerId).not.toBe(a0!.peerId)
    expect(s.job('j')).toMatchObject({ failures: 0, inFlight: 1 })
    expect(s.stats().returned).toBe(1)
    // Returned again by the other worker too: it waits (both rest), then goes out again.
    expect(assigns(s.step({ type: 'taskReturned', jobId: 'j', taskIndex: 0, attemptId: back[0]!.attemptId }, 20))).toEqual([])
    const later = assigns(s.step({ type: 'tick' }, 20 + s.config.unreachableCooldownMs + 1))
    expect(later).toHaveLength(1)
    expect(s.job('j')?.failures).toBe(0)
  })
})

describe('fair share: a short job behind a long one', () => {
  it('finishes long before the long job, and high priority overtakes low without starving it', () => {
    const s = new Scheduler({}, seededRandom(3))
    const workers = ['A', 'B', 'C'].map(p => worker(p, undefined, { slotsTotal: 2, slotsFree: 2 }))
    s.step({ type: 'workers', workers }, 0)
    // Discrete-time mesh: every attempt takes 100 ms; a worker runs slotsTotal at once in assign order.
    const queues = new Map(workers.map(w => [w.peerId, [] as Array<{ a: Assign, endsAt: number }>]))
    const finishedAt = new Map<string, number>()
    const startedAt = new Map<string, number>()
    let now = 0
    const apply = (effects: SchedulerEffect[]): void => {
      for (const e of effects) {
        if (e.type === 'assign') {
          queues.get(e.peerId)!.push({ a: e, endsAt: Infinity })
          if (!startedAt.has(e.jobId)) startedAt.set(e.jobId, now)
        }
        if (e.type === 'jobDone') finishedAt.set(e.jobId, now)
      }
    }
    apply(s.step({ type: 'addJob', jobId: 'long', taskCount: 10_000, weight: 0.25 }, 0))
    for (; now < 2_000_000 && finishedAt.size < 3; now += 10) {
      if (now === 5000) apply(s.step({ type: 'addJob', jobId: 'short', taskCount: 10 }, now))
      if (now === 6000) apply(s.step({ type: 'addJob', jobId: 'high', taskCount: 300, weight: 4 }, now))
      for (const [, q] of queues) {
        // The first two entries run; each takes 100 ms from when it started.
        for (const r of q.slice(0, 2)) if (r.endsAt === Infinity) r.endsAt = now + 100
        for (const r of q.slice(0, 2)) {
          if (r.endsAt <= now) {
            q.splice(q.indexOf(r), 1)
            apply(s.step(ok(r.a), now))
          }
        }
      }
    }
    const short = finishedAt.get('short')!
    const high = finishedAt.get('high')!
    const long = finishedAt.get('long')!
    // The short job starts within one task duration or so and finishes in well under a second...
    expect(startedAt.get('short')! - 5000).toBeLessThanOrEqual(200)
    expect(short - 5000).toBeLessThan(1000)
    // ...long before the long one (10,000 tasks over 6 slots: ~170 s).
    expect(long).toBeGreaterThan(100_000)
    expect(short).toBeLessThan(long / 20)
    // High (weight 4) overtakes low (0.25) but low keeps running meanwhile.
    expect(high).toBeLessThan(long)
    expect(s.job('long')?.state).toBe('done')
  })
})
