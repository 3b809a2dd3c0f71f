import { EventQueue, type EventFn } from './event-queue.js'

// The discrete-event loop: a virtual clock in milliseconds that jumps from event to event.
// Nothing here reads the wall clock; a run ends when the queue is empty, a stop condition
// holds, the simulated time limit passes, or the event budget is spent (all bounded).

export interface SimulationLimits {
  /** Simulated time after which the run stops. */
  timeMsMax: number
  /** Events executed before the run stops (a runaway guard). */
  eventsMax: number
  /** Events waiting at once. */
  eventsQueuedMax: number
}

export type StopReason = 'idle' | 'done' | 'time-limit' | 'event-limit'

export class Simulation {
  private readonly queue: EventQueue
  nowMs = 0
  eventsRun = 0
  private stopRequested = false

  constructor (readonly limits: SimulationLimits) {
    this.queue = new EventQueue(limits.eventsQueuedMax)
  }

  get pending (): number { return this.queue.size }

  /** Runs `fn` after `delayMs` (>= 0) of simulated time. */
  after (delayMs: number, fn: EventFn): void {
    const d = delayMs > 0 && Number.isFinite(delayMs) ? delayMs : 0
    this.queue.push(this.nowMs + d, fn)
  }

  /** Runs `fn` at absolute time `atMs` (now, if that is in the past). */
  at (atMs: number, fn: EventFn): void {
    this.queue.push(atMs > this.nowMs ? atMs : this.nowMs, fn)
  }

  /** Ends the run after the current event. */
  stop (): void { this.stopRequested = true }

  run (): StopReason {
    const { timeMsMax, eventsMax } = this.limits
    for (;;) {
      if (this.stopRequested) return 'done'
      const t = this.queue.peekTime()
      if (t === Infinity) return 'idle'
      if (t > timeMsMax) {
        this.nowMs = timeMsMax
        return 'time-limit'
      }
      if (this.eventsRun >= eventsMax) return 'event-limit'
      const fn = this.queue.pop() as EventFn
      this.nowMs = t
      this.eventsRun++
      fn()
    }
  }
}
