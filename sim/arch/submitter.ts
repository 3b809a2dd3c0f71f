import { coordinatorFor, rendezvousStrategy } from '../../src/election/strategy.js'
import type { SimNode } from '../model/sim-node.js'
import type { World } from '../world.js'

// The submitter's side, as src/node/job-submissions.ts does it: elect the coordinator over
// this node's membership view, send the job, and keep it until the coordinator reports it
// running (task table replicated). If that coordinator dies (or restarts) first, send it
// again under a higher term to the next live candidate. Under a fixed election the submitter
// is a plain client of the master and re-sends to it until it answers.

interface Submission { jobId: string, coordinator: number, coordinatorBoot: string | undefined, term: number, tried: Set<number>, sentMs: number }

export class SubmitterBinding {
  readonly pending = new Map<string, Submission>()

  constructor (private readonly w: World, private readonly node: SimNode) {}

  submit (jobId: string): void {
    const w = this.w
    const coordinator = this.elect(jobId, new Set())
    if (coordinator === undefined) {
      // No live candidate yet: try again after a retry interval.
      const epoch = this.node.epoch
      w.sim.after(w.cfg.protocol.submitRetryMs, () => { if (this.node.epoch === epoch) this.submit(jobId) })
      return
    }
    const s: Submission = { jobId, coordinator, coordinatorBoot: this.liveBoot(coordinator), term: 1, tried: new Set([coordinator]), sentMs: w.sim.nowMs }
    this.pending.set(jobId, s)
    w.send(this.node.index, coordinator, { t: 'job.submit', jobId, term: 1 })
  }

  /** The coordinator says the job runs (replicated) or is final: nothing more to do here. */
  settled (jobId: string): void {
    if (this.pending.delete(jobId)) this.w.ledger.get(jobId)!.ackedAtMs ??= this.w.sim.nowMs
  }

  tick (): void {
    const w = this.w
    for (const s of this.pending.values()) {
      if (w.arch.election === 'fixed') {
        // A client of the master: re-send until the master answers with `running`.
        if (w.sim.nowMs - s.sentMs < w.cfg.protocol.submitRetryMs) continue
        s.sentMs = w.sim.nowMs
        w.send(this.node.index, s.coordinator, { t: 'job.submit', jobId: s.jobId, term: s.term })
        continue
      }
      const boot = this.liveBoot(s.coordinator)
      if (boot !== undefined && boot === s.coordinatorBoot) continue
      const next = this.elect(s.jobId, s.tried) ?? this.elect(s.jobId, new Set())
      if (next === undefined) continue
      s.term++
      s.coordinator = next
      s.coordinatorBoot = this.liveBoot(next)
      s.tried.add(next)
      s.sentMs = w.sim.nowMs
      w.metrics.resubmissions++
      w.send(this.node.index, next, { t: 'job.submit', jobId: s.jobId, term: s.term })
    }
  }

  private elect (jobId: string, skip: Set<number>): number | undefined {
    const w = this.w
    if (w.arch.election === 'fixed') return w.masterIndex
    const members = w.members(this.node)
    if (skip.size === 0) {
      const id = coordinatorFor(rendezvousStrategy, jobId, members)
      return id === undefined ? undefined : w.indexOf(id)
    }
    const next = rendezvousStrategy.rank(jobId, members).find(p => !skip.has(w.indexOf(p)) && this.liveBoot(w.indexOf(p)) !== undefined)
    return next === undefined ? undefined : w.indexOf(next)
  }

  private liveBoot (peer: number): string | undefined { return this.w.liveBoot(this.node, peer) }
}
