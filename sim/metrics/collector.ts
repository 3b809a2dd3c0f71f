// Counters a run accumulates outside the nodes (crashes must not erase them). Bounded lists.

const SAMPLES_MAX = 100_000

export class Collector {
  taskExecutions = 0
  tasksAccepted = 0
  assignments = 0
  claims = 0
  resubmissions = 0
  falseSuspicions = 0
  /** Crash time per node index while it is down (for detection latency). */
  readonly crashedAtMs = new Map<number, number>()
  readonly detectionMs: number[] = []
  private readonly detected = new Set<string>()
  crashes = 0
  /** (time, tasks accepted so far) every sample interval: progress over time. */
  readonly progress: Array<[number, number]> = []

  /** An observer marked `peer` dead: the first such mark after a crash gives the detection time. */
  peerDead (peer: number, nowMs: number): void {
    const at = this.crashedAtMs.get(peer)
    if (at === undefined) return
    const key = `${peer}@${at}`
    if (this.detected.has(key)) return
    this.detected.add(key)
    if (this.detectionMs.length < SAMPLES_MAX) this.detectionMs.push(nowMs - at)
  }

  sample (nowMs: number): void {
    if (this.progress.length < SAMPLES_MAX) this.progress.push([nowMs, this.tasksAccepted])
  }
}
