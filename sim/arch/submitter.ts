import { coordinatorFor } from '../../src/election/strategy.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { replicated, Submissions, type SubmissionEffect } from '../../src/jobs/submission.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'

// The submitter's side: elect the coordinator over this node's membership view and hand the
// job to the same Submissions core the daemon's JobSubmissions binds (src/jobs/submission.ts):
// it keeps the job until its record says running, and sends it again under a higher term when
// the coordinator dies, restarts or never accepts it. Under a fixed election the submitter is
// a plain client of the master — workers of a master architecture see no membership, so the
// core's liveness test cannot apply — and re-sends to it until the master reports it running.

export class SubmitterBinding {
  private readonly core: Submissions<undefined>
  /** The newest record of each pending job as this node heard it (the daemon's registry). */
  private readonly records = new Map<string, Pick<JobRecord, 'state' | 'replicated' | 'term'>>()
  /** Fixed election: when each pending job was last sent to the master. */
  private readonly sentMs = new Map<string, number>()

  constructor (private readonly w: World, private readonly node: SimNode) {
    this.core = new Submissions<undefined>({
      liveBoot: peerId => w.liveBoot(node, w.indexOf(peerId)),
      rank: jobId => w.strategy.rank(jobId, w.members(node)),
      record: jobId => this.records.get(jobId),
    }, { acceptTimeoutMs: w.cfg.protocol.acceptTimeoutMs, pendingMax: 100_000 })
  }

  get pendingCount (): number { return this.core.size }
  pendingJobs (): IterableIterator<string> { return this.core.jobIds() }

  submit (jobId: string): void {
    const w = this.w
    const coordinator = w.arch.election === 'fixed' ? w.nodes[w.masterIndex]?.id : coordinatorFor(w.strategy, jobId, w.members(this.node))
    if (coordinator === undefined) {
      // No live candidate yet: try again after a retry interval.
      const epoch = this.node.epoch
      w.sim.after(w.cfg.protocol.submitRetryMs, () => { if (this.node.epoch === epoch) this.submit(jobId) })
      return
    }
    // As the daemon's API: the replica set is fixed at submission, so every term votes in the same set.
    const plan = w.jobsById.get(jobId)
    if (plan !== undefined && w.arch.backups > 0) {
      const ranked = w.strategy.rank(jobId, w.members(this.node))
      w.fixReplicaSet(plan, [coordinator, ...ranked.filter(p => p !== coordinator).slice(0, w.arch.backups)])
    }
    this.sentMs.set(jobId, w.sim.nowMs)
    this.apply(this.core.submit(jobId, undefined, coordinator, undefined, w.sim.nowMs))
  }

  onAccepted (from: number, jobId: string, term: number): void { this.apply(this.core.onAccepted(this.w.nodes[from]?.id ?? '', jobId, term)) }

  /** A job record reached this node (the daemon's registry upsert): the core reads its state. */
  noteRecord (record: JobRecord): void {
    if (!this.core.has(record.jobId)) return
    const known = this.records.get(record.jobId)
    if (known !== undefined && record.term < known.term) return
    this.records.set(record.jobId, { state: record.state, replicated: record.replicated, term: record.term })
    // Act on it now rather than on the next tick.
    if (replicated(record)) this.apply(this.core.tick(this.w.sim.nowMs))
  }

  tick (): void {
    const w = this.w
    if (w.arch.election !== 'fixed') return this.apply(this.core.tick(w.sim.nowMs))
    // A client of the master: re-send until the master answers with `running`.
    for (const jobId of [...this.core.jobIds()]) {
      if (replicated(this.records.get(jobId))) continue
      if (w.sim.nowMs - (this.sentMs.get(jobId) ?? 0) < w.cfg.protocol.submitRetryMs) continue
      this.sentMs.set(jobId, w.sim.nowMs)
      w.send(this.node.index, w.masterIndex, { t: 'job.submit', jobId, term: 1 })
    }
    this.apply(this.core.tick(w.sim.nowMs), true)
  }

  private apply (effects: Array<SubmissionEffect<undefined>>, masterClient = false): void {
    const w = this.w
    for (const e of effects) {
      switch (e.type) {
        case 'submit':
          // Re-sends to the master are the client loop's (tick); the core's only settle jobs there.
          if (masterClient && e.term > 1) break
          if (e.term > 1) w.metrics.resubmissions++
          w.send(this.node.index, w.indexOf(e.to), { t: 'job.submit', jobId: e.jobId, term: e.term })
          break
        case 'settled':
          this.records.delete(e.jobId)
          this.sentMs.delete(e.jobId)
          w.ledger.get(e.jobId)!.ackedAtMs ??= w.sim.nowMs
          break
        case 'standby': case 'answer': case 'reject': case 'reassigned': case 'log': break
      }
    }
  }
}
