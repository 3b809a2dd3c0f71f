import { backupsFor, coordinatorFor } from '../../src/election/strategy.js'
import type { TakeoverData } from '../../src/jobs/replica-holder.js'
import { CoordinatedJobs, taskResultOf, type CoordinatorEffect } from '../../src/jobs/coordinated-jobs.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import type { SimMessage } from '../net/messages.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'

// The coordinator side of a node: the same CoordinatedJobs core (src/jobs/coordinated-jobs.ts)
// the daemon's JobCoordinator binds, with the real Scheduler inside it, placing tasks from
// this node's membership view. Only the I/O is the simulator's: split and reduce take
// modelled time, progress leaves in batches every replicationBatchMs, and every decision the
// core reports (coordinating, publishing) goes to the ledger outside the nodes.

type TaskMessage = Extract<SimMessage, { t: 'task.ok' | 'task.failed' }>
type Msg<T extends SimMessage['t']> = Extract<SimMessage, { t: T }>

export class CoordinatorBinding {
  readonly core: CoordinatedJobs

  constructor (private readonly w: World, private readonly node: SimNode) {
    const p = w.cfg.protocol
    this.core = new CoordinatedJobs(
      { selfId: node.id, workers: () => w.workerViews(node) },
      { scheduler: { taskTimeoutMs: p.taskTimeoutMs, workersMax: 1_000_000 }, random: w.schedulerRandom(node), commitRetryMs: p.commitRetryMs, progressIntervalMs: p.progressIntervalMs },
      w.replicaBinding(node).holder,
    )
  }

  get self (): number { return this.node.index }
  private get now (): number { return this.w.sim.nowMs }
  private id (peer: number): string { return this.w.nodes[peer]?.id ?? '' }

  /** job.submit from a submitter (or a re-send): elected here, split, replicate, schedule. */
  onSubmit (from: number, jobId: string, term: number): void {
    const w = this.w
    const plan = w.jobsById.get(jobId)
    if (plan === undefined) return
    w.send(this.self, from, { t: 'job.ack', jobId, term })
    w.observe(this.self, [])
    const members = w.members(this.node)
    // The daemon accepts what it is sent; here the master of a fixed election also checks that
    // the strategy names it (it always does while it is alive).
    if (w.arch.election === 'fixed' && coordinatorFor(w.strategy, jobId, members) !== this.node.id) return
    // The submitter fixed the replica set in the spec (as the daemon's API does); else, as the daemon, this node and its backups.
    const spec = w.specOf(plan)
    const replicaSet = spec.replicaSet ?? [this.node.id, ...(w.arch.backups > 0 ? backupsFor(w.strategy, jobId, members, w.arch.backups + 1).filter(p => p !== this.node.id).slice(0, w.arch.backups) : [])]
    this.apply(this.core.submit(spec, term, replicaSet, this.now))
  }

  /** This node won the job's replica set after its coordinator died: carry on from the replica. */
  adopt (data: TakeoverData): void { this.apply(this.core.adopt(data, this.now, this.now)) }

  /** A higher term exists: stop coordinating, publish nothing. */
  yieldJob (jobId: string, term: number): void { this.apply(this.core.yieldJob(jobId, term, this.now)) }

  /** The job is cancelled (a tombstone this node's replica holder keeps): stop it if coordinated here. */
  cancel (jobId: string): void { if (this.core.coordinates(jobId)) this.apply(this.core.cancel(jobId, this.now, this.now)) }

  onTaskResult (from: number, m: TaskMessage): void {
    this.apply(this.core.taskResult(this.id(from), taskResultOf(m), this.now, this.now))
  }

  onReplicaAck (from: number, m: Msg<'job.replicaAck'>): void { this.core.replicaAck(this.id(from), m) }
  onConfirmReply (from: number, m: Msg<'job.confirmReply'>): void { this.apply(this.core.confirmReply(this.id(from), m, this.now, this.now)) }
  onCommitReply (from: number, m: Msg<'job.commitReply'>): void { this.apply(this.core.commitReply(this.id(from), m, this.now)) }

  onUnreachable (peer: number): void {
    if (this.core.size === 0) return
    this.apply(this.core.peerUnreachable(this.id(peer), this.now, this.now))
  }

  /** Periodic (tickMs): membership view, timeouts and backups, re-sends and retries. */
  tick (): void {
    if (this.core.size === 0) return
    this.apply(this.core.tick(this.w.workerViews(this.node), this.now, this.now))
  }

  private apply (effects: CoordinatorEffect[]): void {
    const w = this.w
    for (const e of effects) {
      switch (e.type) {
        case 'send': w.send(this.self, w.indexOf(e.to), e.message as SimMessage); break
        case 'assign': {
          const worker = w.indexOf(e.to)
          w.metrics.assignments++
          if (!w.send(this.self, worker, e.message)) w.unreachableLater(this.node, worker)
          break
        }
        case 'abort': w.send(this.self, w.indexOf(e.to), { t: 'task.abort', attemptId: e.attemptId }); break
        case 'taskDone': w.metrics.tasksAccepted++; break
        case 'split': this.later(w.cfg.protocol.splitBaseMs + w.cfg.protocol.splitPerTaskMs * this.taskCount(e.jobId), () => {
          const plan = w.jobsById.get(e.jobId)
          if (plan !== undefined) this.apply(this.core.splitDone(e.jobId, e.instance, w.chunksOf(plan), this.now, this.now))
        })
          break
        case 'reduce': this.later(w.cfg.protocol.reduceBaseMs + w.cfg.protocol.reducePerTaskMs * e.results.length, () => {
          // The modelled reduce keeps every task's result: the ledger checks each one.
          this.apply(this.core.reduced(e.jobId, e.instance, { ok: true, value: e.results }, this.now, this.now))
        })
          break
        case 'sendReplica': {
          const out = this.core.replicaMessage(e.jobId, e.instance, this.now)
          if (out === undefined) break
          const members = out.message.replicaSet.map(p => w.indexOf(p))
          for (const backup of out.to) {
            const b = w.indexOf(backup)
            w.observe(b, members, false)
            w.send(this.self, b, { ...out.message, code: '' })
          }
          break
        }
        // The end of an event-loop turn is modelled as replicationBatchMs.
        case 'flushLater': this.later(Math.max(e.afterMs, w.cfg.protocol.replicationBatchMs), () => this.apply(this.core.flushProgress(this.now))); break
        case 'coordinating': {
          const members = e.replicaSet.map(p => w.indexOf(p))
          w.ledger.coordinated(e.jobId, this.self, e.term, members, this.now)
          w.observe(this.self, members)
          break
        }
        case 'committing':
          if (w.injectDoublePublish(e.jobId)) w.ledger.published(e.jobId, this.self, e.record.term, this.now, outcomeOf(e.record))
          break
        // As the daemon's onRecord: a final record of our own settles our replica too.
        case 'record':
          w.replicaBinding(this.node).holder.noteRecord(e.record)
          w.submitters.get(this.self)?.noteRecord(e.record)
          break
        case 'published':
          if (w.ledger.published(e.jobId, this.self, e.term, this.now, outcomeOf(e.record))) w.jobFinished(e.jobId)
          break
        case 'attemptEnded': case 'started': case 'closed': case 'yielded': case 'log': break
      }
    }
  }

  private taskCount (jobId: string): number { return this.w.jobsById.get(jobId)?.taskCount ?? 0 }

  /** Runs `fn` after `ms` unless this node crashed meanwhile (a restart is a new binding). */
  private later (ms: number, fn: () => void): void {
    const epoch = this.node.epoch
    this.w.sim.after(ms, () => { if (this.node.epoch === epoch && this.node.up) fn() })
  }
}

/** The ledger's view of a final record: the results the modelled reduce kept, or the error. */
export function outcomeOf (record: JobRecord): { ok: true, results: readonly unknown[] } | { ok: false, error: string } {
  if (record.state === 'done') return { ok: true, results: Array.isArray(record.result) ? record.result : [] }
  return { ok: false, error: record.error ?? record.state }
}
