import fc from 'fast-check'
import { ReplicaHolder, type HolderEffect } from '../../src/jobs/replica-holder.js'
import { CoordinatedJobs, type CoordinatorEffect } from '../../src/jobs/coordinated-jobs.js'
import type { JobRecord, JobSpec } from '../../src/jobs/job-spec.js'
import type { WorkerView } from '../../src/jobs/scheduler.js'
import type { RpcMessage } from '../../src/jobs/wire.js'
import { seededRandom } from '../../src/util/prng.js'

// Histories of a whole replica set [C, A, B] of one job on a network the history controls:
// messages delivered in any order or lost, nodes' views of each other flipping between alive
// and dead (a partition, a pause), time jumping, and (where asked) cancels from any member (a
// tombstone there, sent to the others until acknowledged). Then everything heals and every
// message gets through in a seeded order. Shared by lifecycle.test.ts and cancel.test.ts.

export const SET = ['C', 'A', 'B'] as const
export type Id = typeof SET[number]
const JOB = 'j'
export const TASKS = 3
const spec: JobSpec = { jobId: JOB, kind: 'function', codeHash: 'h'.repeat(64), moduleName: 'm', priority: 'normal', submitter: 'S', submittedAtMs: 0, replicaSet: [...SET] }
const WORKERS: WorkerView[] = [{ peerId: 'W', slotsTotal: 8, slotsFree: 8, cpuLoad: 0, memFree: 1e9, accepting: true, status: 'alive' }]

export type Op =
  | { op: 'deliver', pick: number }
  | { op: 'drop', pick: number }
  | { op: 'work', pick: number }
  | { op: 'tick', node: number, dtMs: number }
  | { op: 'see', node: number, peer: number, alive: boolean }
  | { op: 'cancel', node: number }

/** A history step; `cancel` steps only where `cancels` is asked for. */
export function opArbitrary (cancels: boolean): fc.Arbitrary<Op> {
  return fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat() }), weight: 12 },
    { arbitrary: fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('work' as const), pick: fc.nat() }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('tick' as const), node: fc.nat({ max: 2 }), dtMs: fc.constantFrom(100, 1000, 6000) }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('see' as const), node: fc.nat({ max: 2 }), peer: fc.nat({ max: 2 }), alive: fc.boolean() }), weight: 2 },
    ...(cancels ? [{ arbitrary: fc.record({ op: fc.constant('cancel' as const), node: fc.nat({ max: 2 }) }) as fc.Arbitrary<Op>, weight: 1 }] : []),
  )
}

export interface Outcome { by: Id, term: number, state: string, result: unknown }
export interface Run { outcomes: Outcome[], cancelled: boolean, coordinating: Id[], reduces: number }

/** Runs one history on the replica set, then heals it: what every member published or announced. */
export function runHistory (ops: Op[], seed: number): Run {
  let now = 0
  const sees = new Map<Id, Set<string>>(SET.map(id => [id, new Set(SET)]))
  const net: Array<{ from: Id, to: Id, m: RpcMessage }> = []
  const work: Array<{ coordinator: Id, m: Extract<RpcMessage, { t: 'task.assign' }> }> = []
  const outcomes: Outcome[] = []
  let reduces = 0
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
      else if (e.type === 'record') outcomes.push({ by: id, term: e.record.term, state: e.record.state, result: e.record.result })
      else if (e.type === 'cancelled' && node(id).core.coordinates(e.jobId)) applyCore(id, node(id).core.cancel(e.jobId, now, now))
    }
  }
  const applyCore = (id: Id, effects: CoordinatorEffect[]): void => {
    const { core, holder } = node(id)
    for (const e of effects) {
      switch (e.type) {
        case 'send': send(id, e.to, e.message); break
        case 'assign': work.push({ coordinator: id, m: e.message }); break
        case 'split': applyCore(id, core.splitDone(e.jobId, e.instance, Array.from({ length: TASKS }, (_, i) => i), now, now)); break
        case 'reduce': reduces++; applyCore(id, core.reduced(e.jobId, e.instance, { ok: true, value: e.results.join(',') }, now, now)); break
        case 'sendReplica': {
          const out = core.replicaMessage(e.jobId, e.instance, now)
          for (const to of out?.to ?? []) send(id, to, { ...out!.message, code: '' })
          break
        }
        case 'flushLater': applyCore(id, core.flushProgress(now)); break
        case 'record': holder.noteRecord(e.record); break
        case 'published': outcomes.push({ by: id, term: e.record.term, state: e.record.state, result: e.record.result }); break
        default: break
      }
    }
  }
  const receive = (from: Id, to: Id, m: RpcMessage): void => {
    const { holder, core } = node(to)
    switch (m.t) {
      case 'job.replica': if (holder.replicaArriving(from, m, now)) applyHolder(to, holder.replicaStored(from, m, now)); break
      case 'job.replicaAck': core.replicaAck(from, m); break
      case 'job.progress': applyHolder(to, holder.onProgress(from, m, now)); break
      case 'job.cancel': applyHolder(to, holder.onCancel(from, m, now)); break
      case 'job.cancelAck': applyHolder(to, holder.onCancelAck(from, m)); break
      case 'job.claim': applyHolder(to, holder.onClaim(from, m)); break
      case 'job.claimReply': applyHolder(to, holder.onClaimReply(from, m, now)); break
      case 'job.confirm': applyHolder(to, holder.onConfirm(from, m, now)); break
      case 'job.confirmReply': applyCore(to, core.confirmReply(from, m, now, now)); break
      case 'job.commit': applyHolder(to, holder.onCommit(from, m, now)); break
      case 'job.commitReply': applyCore(to, core.commitReply(from, m, now)); break
      case 'job.takeover': applyHolder(to, holder.onTakeover(from, m)); break
      case 'job.update': if (m.record.coordinator === from || m.record.state === 'done') applyHolder(to, holder.noteRecord(m.record as JobRecord, from, now)); break
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
      case 'cancel': {
        // As the daemon's cancelJob: the record this node knows, cancelled, to the whole set.
        const id = SET[o.node]!
        const record: JobRecord = { jobId: JOB, kind: 'function', moduleName: 'm', state: 'cancelled', coordinator: 'C', term: 1, replicaSet: [...SET], submitter: 'S', priority: 'normal', tasks: TASKS, done: 0, inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 0 }
        applyHolder(id, node(id).holder.cancel(record, SET, now))
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
  return { outcomes, cancelled: SET.some(id => node(id).holder.isCancelled(JOB)), coordinating: SET.filter(id => node(id).core.coordinates(JOB)), reduces }
}
