import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rankCandidates } from '../../src/election/rendezvous.js'
import { answerClaim, answerCommit, newReplicaState, observeCoordinator, shouldClaim, VoteTally } from '../../src/election/replica-set.js'
import { backupsFor, coordinatorFor, fixedStrategy, rendezvousStrategy, type Member } from '../../src/election/strategy.js'
import { Scheduler, type SchedulerEffect, type SchedulerEvent, type WorkerView } from '../../src/jobs/scheduler.js'
import { seededRandom } from '../../src/util/prng.js'
import { CORE_RUNS } from './runs.js'

// The election and job cores under random and malformed input. They never throw; the scheduler
// counts what it cannot use as dropped (droppedEvents) and its state stays consistent; the
// election gives the same answer whatever order the membership comes in, and a replica's
// promises only move forward whatever votes, claims and commits arrive.

const PEERS = ['p0', 'p1', 'p2', 'p3']
const JOBS = ['j0', 'j1', 'j2']

// ---- scheduler ----

const junkEvent = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.record({ type: fc.constantFrom('addJob', 'workers', 'taskOk', 'taskFailed', 'peerUnreachable', 'cancelJob', 'tick', 'nope') }, { requiredKeys: [] })
    .chain(base => fc.dictionary(fc.constantFrom('jobId', 'taskCount', 'workers', 'taskIndex', 'attemptId', 'peerId', 'weight', 'term', 'done', 'error', 'result'), fc.anything({ maxDepth: 2 }), { maxKeys: 5 }).map(d => ({ ...d, ...base }))),
)

type Op =
  | { op: 'add', job: number, tasks: number, weight: number }
  | { op: 'workers', views: WorkerView[] }
  | { op: 'ok' | 'fail', pick: number, mutate: number }
  | { op: 'unreachable', peer: number }
  | { op: 'cancel', job: number }
  | { op: 'tick', dt: number }
  | { op: 'junk', event: unknown }

const view = fc.record({
  peerId: fc.constantFrom(...PEERS),
  slotsTotal: fc.integer({ min: 0, max: 3 }),
  slotsFree: fc.integer({ min: 0, max: 3 }),
  cpuLoad: fc.double({ min: 0, max: 1, noNaN: true }),
  memFree: fc.constant(1e9),
  accepting: fc.boolean(),
  status: fc.constantFrom('alive', 'alive', 'suspect', 'dead', 'left') as fc.Arbitrary<WorkerView['status']>,
})

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('add' as const), job: fc.nat({ max: 2 }), tasks: fc.integer({ min: 0, max: 12 }), weight: fc.constantFrom(0.25, 1, 4) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('workers' as const), views: fc.array(view, { maxLength: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constantFrom('ok' as const, 'fail' as const), pick: fc.nat(), mutate: fc.integer({ min: 0, max: 5 }) }), weight: 10 },
  { arbitrary: fc.record({ op: fc.constant('unreachable' as const), peer: fc.nat({ max: 4 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('cancel' as const), job: fc.nat({ max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 70_000 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('junk' as const), event: junkEvent }), weight: 4 },
)

describe(`scheduler core under random and malformed events (${CORE_RUNS} histories of up to 150 events)`, () => {
  it('never throws, counts malformed events as dropped, and keeps its books consistent', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 150 }), fc.integer(), (ops, seed) => {
      const s = new Scheduler({ taskTimeoutMs: 60_000 }, seededRandom(seed))
      const running = new Map<string, { jobId: string, taskIndex: number, attemptId: string }>()
      const finished = new Set<string>()
      let now = 0
      for (const o of ops) {
        let event: SchedulerEvent | unknown
        switch (o.op) {
          case 'add': event = { type: 'addJob', jobId: JOBS[o.job], taskCount: o.tasks, weight: o.weight }; break
          case 'workers': event = { type: 'workers', workers: o.views }; break
          case 'unreachable': event = { type: 'peerUnreachable', peerId: PEERS[o.peer] ?? 'stranger' }; break
          case 'cancel': event = { type: 'cancelJob', jobId: JOBS[o.job] ?? 'unknown' }; break
          case 'tick': now += o.dt; event = { type: 'tick' }; break
          case 'junk': event = o.event; break
          default: {
            const list = [...running.values()]
            const a = list.length > 0 ? list[o.pick % list.length]! : { jobId: 'j9', taskIndex: 0, attemptId: 'j9:0:1' }
            // Mutations: a wrong attempt id, a wrong task index, an unknown job, a negative index, a non-string id.
            const m = [a, { ...a, attemptId: a.attemptId + 'x' }, { ...a, taskIndex: a.taskIndex + 1 }, { ...a, jobId: 'zz' }, { ...a, taskIndex: -1 }, { ...a, attemptId: 7 }][o.mutate]
            event = o.op === 'ok' ? { type: 'taskOk', ...m, result: a.taskIndex } : { type: 'taskFailed', ...m, error: 'e' }
          }
        }
        const droppedBefore = s.stats().droppedEvents
        let effects: SchedulerEffect[] = []
        expect(() => { effects = s.step(event as SchedulerEvent, now) }).not.toThrow()
        const malformed = typeof event !== 'object' || event === null || !['addJob', 'workers', 'taskOk', 'taskFailed', 'peerUnreachable', 'cancelJob', 'tick'].includes((event as { type?: unknown }).type as string)
        if ((o.op === 'ok' || o.op === 'fail') && (o.mutate === 3 || o.mutate === 5)) {
          // About a job it does not run, or with a non-string attempt id: dropped, and counted.
          expect(s.stats().droppedEvents).toBe(droppedBefore + 1)
          expect(effects).toEqual([])
        }
        if (malformed) {
          expect(s.stats().droppedEvents).toBe(droppedBefore + 1)
          expect(effects).toEqual([])
        }
        // A job may be added again once it ended (a new term after failover): it may end again.
        if (o.op === 'add' && s.stats().droppedEvents === droppedBefore) finished.delete(JOBS[o.job]!)
        for (const e of effects) {
          if (e.type === 'assign') {
            expect(finished.has(e.jobId)).toBe(false)
            expect(running.has(e.attemptId)).toBe(false)
            running.set(e.attemptId, e)
          } else if (e.type === 'abort') {
            running.delete(e.attemptId)
          } else if (e.type === 'jobDone' || e.type === 'jobFailed' || e.type === 'jobCancelled') {
            // A job ends once.
            expect(finished.has(e.jobId)).toBe(false)
            finished.add(e.jobId)
            if (e.type === 'jobDone') expect(e.results).toHaveLength(s.job(e.jobId)?.total ?? e.results.length)
          }
        }
        if (event !== null && typeof event === 'object' && ((event as { type?: unknown }).type === 'taskOk' || (event as { type?: unknown }).type === 'taskFailed')) running.delete((event as { attemptId: string }).attemptId)
        for (const id of [...running.keys()]) if (finished.has(running.get(id)!.jobId)) running.delete(id)
        // Books: in-flight counts agree between the job, worker and global views.
        const stats = s.stats()
        const jobs = s.jobs()
        expect(jobs.filter(j => j.state === 'running').reduce((n, j) => n + j.inFlight, 0)).toBe(stats.inFlight)
        expect(s.workers().reduce((n, w) => n + w.inFlight, 0)).toBe(stats.inFlight)
        for (const j of jobs) {
          expect(j.done).toBeGreaterThanOrEqual(0)
          expect(j.done).toBeLessThanOrEqual(j.total)
          if (j.state === 'running') expect(j.done + j.inFlight + j.queued).toBeGreaterThanOrEqual(j.total - j.inFlight)
        }
      }
    }), { numRuns: CORE_RUNS })
  })
})

// ---- election ----

const member: fc.Arbitrary<Member> = fc.record({
  peerId: fc.constantFrom(...PEERS, 'p4', ''),
  slotsTotal: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(-1, Number.NaN, Infinity, 1e12)),
  status: fc.constantFrom('alive', 'suspect', 'dead', 'left', 'bogus') as fc.Arbitrary<Member['status']>,
})

describe(`election under random memberships (${CORE_RUNS} cases per property)`, () => {
  it('never throws; picks a live member or nobody; the same answer whatever the order', () => {
    fc.assert(fc.property(fc.array(member, { maxLength: 8 }), fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 5 }), (members, jobId, k) => {
      for (const strategy of [rendezvousStrategy, fixedStrategy('p1')]) {
        const chosen = coordinatorFor(strategy, jobId, members)
        if (chosen !== undefined) expect(members.some(m => m.peerId === chosen)).toBe(true)
        expect(coordinatorFor(strategy, jobId, [...members].reverse())).toBe(chosen)
        const backups = backupsFor(strategy, jobId, members, k)
        expect(backups.length).toBeLessThanOrEqual(Math.max(0, k))
        expect(new Set(backups).size).toBe(backups.length)
      }
      const ranked = rankCandidates(jobId, members.map(m => ({ peerId: m.peerId, weight: m.slotsTotal })))
      expect(new Set(ranked).size).toBe(ranked.length)
    }), { numRuns: CORE_RUNS })
  })

  const vote = fc.record({
    kind: fc.constantFrom('claim', 'commit', 'observe', 'vote'),
    from: fc.constantFrom(...PEERS, 'stranger'),
    term: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(-1, Number.NaN, Number.MAX_SAFE_INTEGER)),
    ok: fc.boolean(),
  })

  it('replica promises only move forward, a commit is never replaced, strangers\' votes change nothing', () => {
    fc.assert(fc.property(fc.array(vote, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (votes, tallyTerm) => {
      const replicaSet = ['p0', 'p1', 'p2']
      const state = newReplicaState('j', replicaSet, 'p0', 1)
      const tally = new VoteTally(replicaSet, tallyTerm, 'p1')
      let promised = state.promisedTerm
      let committed: number | undefined
      for (const v of votes) {
        const before = tally.outcome()
        expect(() => {
          if (v.kind === 'claim') answerClaim(state, v.term)
          else if (v.kind === 'commit') answerCommit(state, v.term)
          else if (v.kind === 'observe') observeCoordinator(state, v.from, v.term)
          else tally.add(v.from, v.ok, v.term)
          shouldClaim(state, 'p1', p => p !== 'p0')
        }).not.toThrow()
        if (v.kind === 'vote' && v.from === 'stranger') expect(tally.outcome()).toBe(before)
        if (Number.isFinite(state.promisedTerm)) {
          expect(state.promisedTerm).toBeGreaterThanOrEqual(promised)
          promised = state.promisedTerm
        }
        if (committed !== undefined) expect(state.committedTerm).toBe(committed)
        committed = state.committedTerm
      }
    }), { numRuns: CORE_RUNS })
  })
})
