import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ReplicaHolder, type HolderEffect } from '../../src/election/replica-holder.js'
import { CoordinatedJobs, type CoordinatorEffect } from '../../src/jobs/coordinated-jobs.js'
import type { JobRecord, JobSpec } from '../../src/jobs/job-spec.js'
import type { WorkerView } from '../../src/jobs/scheduler.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { seededRandom } from '../../src/util/prng.js'
import { CORE_RUNS } from './runs.js'

// The job lifecycle cores of a whole replica set [C, A, B] on a network the history controls:
// messages delivered in any order, lost, nodes' views of each other flipping between alive and
// dead (a partition, a pause), time jumping. Whatever happens, the job has at most one outcome:
// every result published by a coordinator or announced by a member is the same record's term.
// Then everything heals and every message gets through: the job must have its outcome.
// (Takeovers are rare in these histories — a claim must start and win between the view flips
// and time jumps — so this mostly checks that no interleaving leaves the job stuck or throws;
// claims and terms have their own cases in test/unit/replica-holder.test.ts, DST and chaos.)

const SET = ['C', 'A', 'B'] as const
type Id = typeof SET[number]
const JOB = 'j'
const TASKS = 3
const spec: JobSpec = { jobId: JOB, kind: 'function', codeHash: 'h'.repeat(64), moduleName: 'm', priority: 'normal', submitter: 'S', submittedAtMs: 0, replicaSet: [...SET] }
const WORKERS: WorkerView[] = [{ peerId: 'W', slotsTotal: 8, slotsFree: 8, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' }]

type Op =
  | { op: 'deliver', pick: number }
  | { op: 'drop', pick: number }
  | { op: 'work', pick: number }
  | { op: 'tick', node: number, dtMs: number }
  | { op: 'see', node: number, peer: number, alive: boolean }

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat() }), weight: 12 },
  { arbitrary: fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('work' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), node: fc.nat({ max: 2 }), dtMs: fc.constantFrom(100, 1000, 6000) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('see' as const), node: fc.nat({ max: 2 }), peer: fc.nat({ max: 2 }), alive: fc.boolean() }), weight: 2 },
)

function run (ops: Op[], seed: number): Array<{ by: Id, term: number, result: unknown }> {
  let now = 0
  const sees = new Map<Id, Set<string>>(SET.map(id => [id, new Set(SET)]))
  const net: Array<{ from: Id, to: Id, m: RpcMessage }> = []
  const work: Array<{ coordinator: Id, m: Extract<RpcMessage, { t: 'task.assign' }> }> = []
  const outcomes: Array<{ by: Id, term: number, result: unknown }> = []
  const nodes = new Map<Id, { holder: ReplicaHolder, core: CoordinatedJobs }>()
  for (const id of SET) {
    const holder = new ReplicaHolder({
      selfId: id,
      liveBoot: p => sees.get(id)!.has(p) ? `boot-${p}` : undefined,
      alivePeers: () => [...sees.get(id)!],
      coordinates: jobId => nodes.get(id)!.core.coordinates(jobId),
    }, { retentionMs: 600_000, claimTimeoutMs: 5000 })
    const core = new CoordinatedJobs({ selfId: id, workers: () => WORKERS }, { scheduler: { taskTimeoutMs: 60_000 }, random: seededRandom(seed), commitRetryMs: 1000 }, holder)
    nodes.set(id, { holder, core })
  }
  const node = (id: Id): { holder: ReplicaHolder, core: CoordinatedJobs } => nodes.get(id)!
  const send = (from: Id, to: string, m: RpcMessage): void => { if ((SET as readonly string[]).includes(to)) net.push({ from, to: to as Id, m }) }

  const applyHolder = (id: Id, effects: HolderEffect[]): void => {
    for (const e of effects) {
      if (e.type === 'send') send(id, e.to, e.message)
      else if (e.type === 'takeOver') applyCore(id, node(id).core.adopt(e.data, now, now))
      else if (e.type === 'yield') applyCore(id, node(id).core.yieldJob(e.jobId, e.term, now))
      else if (e.type === 'record') outcomes.push({ by: id, term: e.record.term, result: e.record.result })
    }
  }
  const applyCore = (id: Id, effects: CoordinatorEffect[]): void => {
    const { core, holder } = node(id)
    for (const e of effects) {
      switch (e.type) {
        case 'send': send(id, e.to, e.message); break
        case 'assign': work.push({ coordinator: id, m: e.message }); break
        case 'split': applyCore(id, core.splitDone(e.jobId, e.instance, Array.from({ length: TASKS }, (_, i) => i), now, now)); break
        case 'reduce': applyCore(id, core.reduced(e.jobId, e.instance, { ok: true, value: e.results.join(',') }, now, now)); break
        case 'sendReplica': {
          const out = core.replicaMessage(e.jobId, e.instance, now)
          for (const to of out?.to ?? []) send(id, to, { ...out!.message, code: '' })
          break
        }
        case 'flushLater': applyCore(id, core.flushProgress(now)); break
        case 'record': holder.noteRecord(e.record); break
        case 'published': outcomes.push({ by: id, term: e.record.term, result: e.record.result }); break
        default: break
      }
    }
  }
  const receive = (from: Id, to: Id, m: RpcMessage): void => {
    const { holder, core } = node(to)
    switch (m.t) {
      case 'job.replica': if (holder.replicaArriving(from, m, now)) applyHolder(to, holder.replicaStored(from, m, now)); break
      case 'job.replicaAck': core.replicaAck(from, m); break
      case 'job.progress': holder.onProgress(from, m, now); break
      case 'job.claim': applyHolder(to, holder.onClaim(from, m)); break
      case 'job.claimReply': applyHolder(to, holder.onClaimReply(from, m)); break
      case 'job.confirm': applyHolder(to, holder.onConfirm(from, m)); break
      case 'job.confirmReply': applyCore(to, core.confirmReply(from, m, now, now)); break
      case 'job.commit': applyHolder(to, holder.onCommit(from, m, now)); break
      case 'job.commitReply': applyCore(to, core.commitReply(from, m, now)); break
      case 'job.takeover': applyHolder(to, holder.onTakeover(from, m)); break
      case 'job.update': if (m.record.coordinator === from || m.record.state === 'done') holder.noteRecord(m.record as JobRecord); break
      default: break
    }
  }

  applyCore('C', node('C').core.submit(spec, 1, SET, now))
  // The backups hold the replica before the faults begin (else no one could take over).
  while (net.length > 0) {
    const msg = net.shift()!
    receive(msg.from, msg.to, msg.m)
  }
  for (const o of ops) {
    switch (o.op) {
      case 'deliver': case 'drop': {
        if (net.length === 0) break
        const [msg] = net.splice(o.pick % net.length, 1)
        // A node delivers only from peers it can reach (its view of them alive).
        if (o.op === 'deliver' && sees.get(msg!.to)!.has(msg!.from)) receive(msg!.from, msg!.to, msg!.m)
        break
      }
      case 'work': {
        if (work.length === 0) break
        const [w] = work.splice(o.pick % work.length, 1)
        applyCore(w!.coordinator, node(w!.coordinator).core.taskResult('W', { jobId: JOB, taskIndex: w!.m.taskIndex, attemptId: w!.m.attemptId, outcome: 'ok', value: w!.m.taskIndex * 7, runMs: 1 }, now, now))
        break
      }
      case 'tick': {
        now += o.dtMs
        const id = SET[o.node]!
        applyCore(id, node(id).core.tick(WORKERS, now, now))
        applyHolder(id, node(id).holder.tick(now))
        break
      }
      case 'see': {
        const id = SET[o.node]!
        const peer = SET[o.peer]!
        if (peer === id) break
        if (o.alive) sees.get(id)!.add(peer)
        else sees.get(id)!.delete(peer)
        break
      }
    }
  }
  // Heal: everyone sees everyone again and every message gets through, in a seeded order; the
  // job must finish.
  const order = seededRandom(seed ^ 0x5eed)
  for (const id of SET) for (const peer of SET) sees.get(id)!.add(peer)
  for (let round = 0; round < 60; round++) {
    for (let guard = 0; (net.length > 0 || work.length > 0) && guard < 10_000; guard++) {
      // Workers first: a stale coordinator gets its results before it hears of a takeover.
      if (work.length > 0) {
        const w = work.shift()!
        applyCore(w.coordinator, node(w.coordinator).core.taskResult('W', { jobId: JOB, taskIndex: w.m.taskIndex, attemptId: w.m.attemptId, outcome: 'ok', value: w.m.taskIndex * 7, runMs: 1 }, now, now))
      } else {
        const [msg] = net.splice(Math.floor(order() * net.length), 1)
        receive(msg!.from, msg!.to, msg!.m)
      }
    }
    now += 1000
    for (const id of SET) {
      applyCore(id, node(id).core.tick(WORKERS, now, now))
      applyHolder(id, node(id).holder.tick(now))
    }
  }
  return outcomes
}

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
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), fc.integer(), (ops, seed) => {
      const outcomes = run(ops, seed)
      const terms = new Set(outcomes.map(o => o.term))
      expect(terms.size).toBe(1)
      for (const o of outcomes) expect(o.result).toBe('0,7,14')
    }), { numRuns: CORE_RUNS })
  })
})
