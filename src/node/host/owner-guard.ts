import { nextRunFraction, OwnerPolicy, type OwnerPolicyConfig, type OwnerPolicyEffect, type OwnerPolicyView } from '../../jobs/owner-policy.js'
import type { Logger } from './logger.js'
import { OwnerProbe } from './owner-probe.js'

// Binds the owner-policy core to the machine: samples the owner's load every second, feeds
// the core, and performs its effects — pause/resume (SIGSTOP/SIGCONT) of the executors,
// accepting in the vector, giving tasks back. With --max-cpu it also duty-cycles the
// executors (SIGCONT for a fraction of each 200 ms period, SIGSTOP for the rest), the fraction
// steered by the executors' CPU measured from /proc.

export interface Pausable {
  pause: () => void
  resume: () => void
  /** Pids of this node's executors. */
  pids: () => number[]
}

export interface OwnerGuardOptions {
  policy: OwnerPolicyConfig
  /** Executors' CPU cap as a fraction of the whole machine (0 < x <= 1), or undefined. */
  maxCpu: number | undefined
  executors: Pausable
  giveBack: () => void
  /** accepting changed: publish the vector now. */
  onChange: () => void
  log: Logger
  nowMs: () => number
  /** Local minutes since midnight (for --hours). */
  minuteOfDay: () => number
}

const SAMPLE_MS = 1000
const DUTY_PERIOD_MS = 200

export class OwnerGuard {
  private readonly core: OwnerPolicy
  private readonly probe: OwnerProbe
  private readonly timers: NodeJS.Timeout[] = []
  private policyPaused = false
  private dutyOff = false
  private paused = false
  private runFraction = 1
  private stopped = false
  ownerCpuLoad = 0
  executorShare = 0

  constructor (private readonly opts: OwnerGuardOptions) {
    this.core = new OwnerPolicy(opts.policy)
    this.probe = new OwnerProbe(opts.policy.policy === 'desktop' && opts.policy.useConsole)
  }

  start (): void {
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(() => {
        try { fn() } catch (err) { this.opts.log.error({ err }, 'owner guard failed') }
      }, ms)
      this.timers.push(t)
    }
    every(SAMPLE_MS, () => this.sample())
    if (this.opts.maxCpu !== undefined && this.opts.maxCpu < 1) every(DUTY_PERIOD_MS, () => this.dutyCycle())
  }

  get accepting (): boolean { return this.core.view().accepting }
  get policy (): OwnerPolicyConfig { return this.opts.policy }
  view (): OwnerPolicyView & { ownerCpuLoad: number, executorShare: number, runFraction: number } {
    return { ...this.core.view(), ownerCpuLoad: this.ownerCpuLoad, executorShare: this.executorShare, runFraction: this.runFraction }
  }

  drain (): void {
    this.apply(this.core.step({ type: 'drain' }, this.opts.nowMs()))
  }

  stop (): void {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    this.policyPaused = false
    this.dutyOff = false
    this.sync()
  }

  private sample (): void {
    const now = this.opts.nowMs()
    const s = this.probe.sample(new Set(this.opts.executors.pids()), now)
    this.ownerCpuLoad = Math.round(s.ownerCpuLoad * 1000) / 1000
    this.executorShare = s.ownExecutorShare
    if (this.opts.maxCpu !== undefined && this.opts.maxCpu < 1) this.runFraction = nextRunFraction(this.runFraction, s.ownExecutorShare, this.opts.maxCpu)
    this.apply(this.core.step({ type: 'sample', ownerCpuLoad: s.ownerCpuLoad, ...(s.consoleActive !== undefined ? { consoleActive: s.consoleActive } : {}), minuteOfDay: this.opts.minuteOfDay() }, now))
  }

  private apply (effects: OwnerPolicyEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'accepting':
          this.opts.log.info({ ...this.view(), accepting: e.accepting }, e.accepting ? 'accepting tasks again' : 'not accepting tasks')
          this.opts.onChange()
          break
        case 'pause':
          this.opts.log.info({ ownerCpuLoad: this.ownerCpuLoad, reason: this.core.view().reason }, 'owner busy: pausing executors')
          this.policyPaused = true
          break
        case 'resume':
          this.opts.log.info({ ownerCpuLoad: this.ownerCpuLoad }, 'owner idle: resuming executors')
          this.policyPaused = false
          break
        case 'giveBack':
          this.opts.log.info({}, 'owner still busy: giving tasks back')
          this.opts.giveBack()
          break
      }
    }
    this.sync()
  }

  /** One duty period: run for runFraction of it, then stop until the next. */
  private dutyCycle (): void {
    if (this.stopped) return
    if (this.runFraction >= 0.999) {
      this.dutyOff = false
      this.sync()
      return
    }
    this.dutyOff = false
    this.sync()
    const t = setTimeout(() => {
      if (this.stopped) return
      this.dutyOff = true
      this.sync()
    }, Math.max(1, Math.round(DUTY_PERIOD_MS * this.runFraction)))
    t.unref()
  }

  private sync (): void {
    const want = this.policyPaused || this.dutyOff
    if (want === this.paused) return
    this.paused = want
    if (want) this.opts.executors.pause()
    else this.opts.executors.resume()
  }
}
