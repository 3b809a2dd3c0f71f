import { coordinatorFor } from '../../src/election/strategy.js'
import type { JobRecord, JobState } from '../../src/jobs/job-spec.js'
import { Submissions, type SubmissionEffect } from '../../src/jobs/submission.js'
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
  /** The newest state of each pending job as this node heard it (the daemon's registry). */
  private readonly states = new Map<string, JobState>()
  /** Fixed election: when each pending job was last sent to the master. */
  private readonly sentMs = new Map<string, number>()

  constructor (private readonly w: World, private readonly node: SimNode) {
    this.core = new Submissions<undefined>({
      liveBoot: peerId => w.liveBoot(node, w.indexOf(peerId)),
      rank: jobId => w.strategy.rank(jobId, w.members(node)),
      state: jobId => this.states.get(jobId),
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
    this.sentMs.set(jobId, w.sim.nowMs)
    this.apply(this.core.submit(jobId, undefined, coordinator, undefined, w.sim.nowMs))
  }

  onAccepted (from: number, jobId: string, term: number): void { this.apply(this.core.onAccepted(this.w.nodes[from]?.id ?? '', jobId, term)) }

  /** A job record reached this node (the daemon's registry upsert): the core reads its state. */
  noteRecord (record: JobRecord): void {
    if (!this.core.has(record.jobId)) return
    this.states.set(record.jobId, record.state)
    // Act on it now, as the sim always has, rather than on the next tick.
    if (record.state !== 'pending' && record.state !== 'splitting') this.apply(this.core.tick(this.w.sim.nowMs))
  }

  tick (): void {
    const w = this.w
    if (w.arch.election !== 'fixed') return this.apply(this.core.tick(w.sim.nowMs))
    // A client of the master: re-send until the master answers with `running`.
    for (const jobId of [...this.core.jobIds()]) {
      const state = this.states.get(jobId)
      if (state !== undefined && state !== 'pending' && state !== 'splitting') continue
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
          this.states.delete(e.jobId)
          this.sentMs.delete(e.jobId)
          w.ledger.get(e.jobId)!.ackedAtMs ??= w.sim.nowMs
          break
        case 'standby': case 'answer': case 'reject': case 'reassigned': case 'log': break
      }
    }
  }
}
