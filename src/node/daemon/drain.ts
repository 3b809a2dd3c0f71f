import type { JobRecord } from '../../jobs/job-spec.js'
import type { Logger } from '../host/logger.js'

// `meshwork drain`: take a node out of the mesh without losing work. In order, but all
// driven by one periodic check:
// 1. stop accepting (the vector says accepting: false and draining: true, so no new tasks
//    come and the node is no longer elected coordinator or backup of new jobs);
// 2. let running tasks finish — or, after `timeoutMs`, hand them back to their coordinators;
// 3. hand every job this node coordinates to a live backup of its replica set (which claims
//    a higher term; this node votes for it and yields), and wait for jobs that cannot be
//    handed over (splitting, reducing, committing, no backup) to finish here;
// 4. leave the mesh cleanly (a `left` vector), and end the process.

export type DrainState = 'serving' | 'draining' | 'leaving' | 'left'

export interface DrainProgress {
  state: DrainState
  runningTasks: number
  coordinatedJobs: number
  elapsedMs: number
  gaveBack: number
}

export interface DrainDeps {
  selfId: string
  guard: { drain: () => void }
  worker: { readonly runningTasks: number, giveBack: () => number }
  coordinator: {
    coordinated: () => Array<{ jobId: string, state: JobRecord['state'], committing: boolean, replicaSet: readonly string[] }>
    handOver: (jobId: string, to: string) => boolean
  }
  isAlive: (peerId: string) => boolean
  /** Publish `left`, close everything. */
  leave: () => Promise<void>
  /** After leaving (the CLI ends the process). */
  onLeft?: () => void
  timeoutMs: number
  nowMs: () => number
  log: Logger
  checkEveryMs?: number
  handOverRetryMs?: number
}

export class Drainer {
  state: DrainState = 'serving'
  private startedMs = 0
  private gaveBack = 0
  private timer: NodeJS.Timeout | undefined
  private readonly handedOverAt = new Map<string, number>()

  constructor (private readonly deps: DrainDeps) {}

  progress (): DrainProgress {
    return {
      state: this.state,
      runningTasks: this.deps.worker.runningTasks,
      coordinatedJobs: this.deps.coordinator.coordinated().length,
      elapsedMs: this.state === 'serving' ? 0 : Math.round(this.deps.nowMs() - this.startedMs),
      gaveBack: this.gaveBack,
    }
  }

  /** Idempotent. */
  start (): DrainProgress {
    if (this.state === 'serving') {
      this.state = 'draining'
      this.startedMs = this.deps.nowMs()
      this.deps.log.info({ timeoutMs: this.deps.timeoutMs }, 'draining: no new tasks; finishing running ones and handing jobs over')
      this.deps.guard.drain()
      this.timer = setInterval(() => {
        try { this.check() } catch (err) { this.deps.log.error({ err }, 'drain check failed') }
      }, this.deps.checkEveryMs ?? 250)
    }
    return this.progress()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private check (): void {
    if (this.state !== 'draining') return
    const now = this.deps.nowMs()
    if (this.deps.worker.runningTasks > 0 && now - this.startedMs >= this.deps.timeoutMs) {
      const n = this.deps.worker.giveBack()
      if (n > 0) this.deps.log.info({ tasks: n }, 'draining: timeout, handing running tasks back')
      this.gaveBack += n
    }
    const jobs = this.deps.coordinator.coordinated()
    for (const job of jobs) {
      if (job.state !== 'running' || job.committing) continue
      if (now - (this.handedOverAt.get(job.jobId) ?? -Infinity) < (this.deps.handOverRetryMs ?? 3000)) continue
      const to = job.replicaSet.find(p => p !== this.deps.selfId && this.deps.isAlive(p))
      if (to !== undefined && this.deps.coordinator.handOver(job.jobId, to)) this.handedOverAt.set(job.jobId, now)
    }
    if (this.deps.worker.runningTasks > 0 || jobs.length > 0) return
    this.state = 'leaving'
    this.stop()
    this.deps.log.info({ elapsedMs: Math.round(now - this.startedMs), gaveBack: this.gaveBack }, 'drained: leaving the mesh')
    void this.deps.leave().then(() => {
      this.state = 'left'
      this.deps.onLeft?.()
    }, err => this.deps.log.error({ err }, 'error while leaving'))
  }
}
