import { MeshworkError } from '../util/errors.js'
// The owner policy of one node: when the mesh may use this machine. A sans-IO core — the
// binding (src/node/host/owner-guard.ts) and the simulator (sim/) feed it samples with the time
// and perform the effects it returns; it never reads a clock or the OS.
//
// desktop: accept tasks while the owner's own CPU load is low (and the console idle, where the
// OS says so). When the owner's load stays above `busyAbove` for `busyForMs`, stop accepting
// and pause running tasks (SIGSTOP the executors); once it stays below `idleBelow` for
// `idleForMs`, resume and accept again (two thresholds and two delays: hysteresis, so a
// fluctuating load does not flap). If the owner stays busy for `giveBackAfterMs`, give the
// tasks back so their coordinators place them elsewhere.
// dedicated: runs whenever slots are free; owner load is reported but ignored.
// Both: outside the `hours` window (when given) the node behaves as if the owner were busy;
// a draining node never accepts again.

export type OwnerPolicyName = 'desktop' | 'dedicated'
export const OWNER_POLICY_NAMES: readonly OwnerPolicyName[] = ['desktop', 'dedicated']

/** Minutes of the local day, [startMin, endMin); wraps midnight when startMin > endMin. */
export interface HoursWindow { startMin: number, endMin: number }

export interface OwnerPolicyConfig {
  policy: OwnerPolicyName
  /** Owner CPU load (0..1 of the whole machine) above which the owner counts as busy. */
  busyAbove: number
  /** ... and below which idle again (< busyAbove). */
  idleBelow: number
  busyForMs: number
  idleForMs: number
  /** Paused this long: give the tasks back. */
  giveBackAfterMs: number
  /** Treat an active console (logind IdleHint false) as a busy owner (desktop only). */
  useConsole: boolean
  hours?: HoursWindow
}

export const DEFAULT_OWNER_POLICY: Readonly<Record<OwnerPolicyName, OwnerPolicyConfig>> = {
  desktop: { policy: 'desktop', busyAbove: 0.5, idleBelow: 0.25, busyForMs: 3000, idleForMs: 10_000, giveBackAfterMs: 30_000, useConsole: true },
  dedicated: { policy: 'dedicated', busyAbove: 1, idleBelow: 1, busyForMs: 3000, idleForMs: 3000, giveBackAfterMs: 30_000, useConsole: false },
}

export class OwnerPolicyError extends MeshworkError { readonly code = 'owner-policy' }

export function ownerPolicyConfig (name: string, overrides: Partial<Omit<OwnerPolicyConfig, 'policy'>> = {}): OwnerPolicyConfig {
  if (name !== 'desktop' && name !== 'dedicated') throw new OwnerPolicyError(`--policy must be desktop or dedicated, got "${name}"`)
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
  const c: OwnerPolicyConfig = { ...DEFAULT_OWNER_POLICY[name], ...defined }
  const frac = (k: 'busyAbove' | 'idleBelow'): void => {
    if (!(c[k] >= 0 && c[k] <= 1)) throw new OwnerPolicyError(`owner policy ${k} must be within 0..1, got ${c[k]}`)
  }
  frac('busyAbove')
  frac('idleBelow')
  if (c.idleBelow > c.busyAbove) throw new OwnerPolicyError(`owner policy idleBelow (${c.idleBelow}) must not exceed busyAbove (${c.busyAbove})`)
  for (const k of ['busyForMs', 'idleForMs', 'giveBackAfterMs'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) throw new OwnerPolicyError(`owner policy ${k} must be a number >= 0, got ${c[k]}`)
  }
  return c
}

/** "19:00-07:00" → { startMin: 1140, endMin: 420 }. Errors name the flag. */
export function parseHours (value: string): HoursWindow {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(value)
  const bad = (): never => { throw new OwnerPolicyError(`--hours must look like HH:MM-HH:MM (e.g. 19:00-07:00), got "${value}"`) }
  if (m === null) return bad()
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number]
  if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59 || (h1 === 24 && m1 > 0) || (h2 === 24 && m2 > 0)) return bad()
  const startMin = h1 * 60 + m1
  const endMin = h2 * 60 + m2
  if (startMin === endMin) throw new OwnerPolicyError(`--hours: the window "${value}" is empty (start equals end)`)
  return { startMin: startMin % 1440, endMin: endMin === 1440 ? 1440 : endMin }
}

export function inHours (hours: HoursWindow | undefined, minuteOfDay: number): boolean {
  if (hours === undefined) return true
  const m = ((minuteOfDay % 1440) + 1440) % 1440
  return hours.startMin < hours.endMin ? m >= hours.startMin && m < hours.endMin : m >= hours.startMin || m < hours.endMin
}

export type OwnerPolicyEvent =
  /** A measurement: the owner's CPU load (0..1 of the machine), console activity if known, local time of day. */
  | { type: 'sample', ownerCpuLoad: number, consoleActive?: boolean, minuteOfDay: number }
  /** `meshwork drain`: never accept again. */
  | { type: 'drain' }

export type OwnerPolicyEffect =
  | { type: 'accepting', accepting: boolean }
  /** SIGSTOP the executors. */
  | { type: 'pause' }
  /** SIGCONT them. */
  | { type: 'resume' }
  /** Hand running tasks back to their coordinators (once per busy period). */
  | { type: 'giveBack' }

export type OwnerMode = 'running' | 'paused' | 'returned'

export interface OwnerPolicyView {
  mode: OwnerMode
  accepting: boolean
  ownerBusy: boolean
  draining: boolean
  /** Why the node is yielding, when it is. */
  reason: 'owner-cpu' | 'console' | 'hours' | 'draining' | undefined
}

export class OwnerPolicy {
  private mode: OwnerMode = 'running'
  private ownerBusy = false
  private draining = false
  private accepting = true
  private reason: OwnerPolicyView['reason']
  private wantsSinceMs: number | undefined
  private releasedSinceMs: number | undefined
  private pausedSinceMs = 0
  private clockMs = 0

  constructor (readonly config: OwnerPolicyConfig) {}

  view (): OwnerPolicyView {
    return { mode: this.mode, accepting: this.accepting, ownerBusy: this.ownerBusy, draining: this.draining, reason: this.draining && !this.ownerBusy ? 'draining' : this.reason }
  }

  step (event: OwnerPolicyEvent, now: number): OwnerPolicyEffect[] {
    if (Number.isFinite(now) && now > this.clockMs) this.clockMs = now
    const t = this.clockMs
    const out: OwnerPolicyEffect[] = []
    switch (event.type) {
      case 'drain':
        this.draining = true
        break
      case 'sample':
        this.onSample(event, t, out)
        break
    }
    this.setAccepting(!this.ownerBusy && !this.draining, out)
    return out
  }

  private onSample (e: Extract<OwnerPolicyEvent, { type: 'sample' }>, t: number, out: OwnerPolicyEffect[]): void {
    const c = this.config
    const load = Number.isFinite(e.ownerCpuLoad) ? Math.min(1, Math.max(0, e.ownerCpuLoad)) : 0
    const outside = !inHours(c.hours, e.minuteOfDay)
    const desktop = c.policy === 'desktop'
    const console = desktop && c.useConsole && e.consoleActive === true
    const wants = outside || console || (desktop && load > c.busyAbove)
    const released = !outside && !console && (!desktop || load < c.idleBelow)
    this.wantsSinceMs = wants ? this.wantsSinceMs ?? t : undefined
    this.releasedSinceMs = released ? this.releasedSinceMs ?? t : undefined

    if (!this.ownerBusy) {
      // Leaving the hours window is a schedule, not a guess: act on it at once.
      if (wants && (outside || t - (this.wantsSinceMs as number) >= c.busyForMs)) {
        this.ownerBusy = true
        this.reason = outside ? 'hours' : console ? 'console' : 'owner-cpu'
        this.mode = 'paused'
        this.pausedSinceMs = t
        out.push({ type: 'pause' })
      }
    } else if (released && t - (this.releasedSinceMs as number) >= c.idleForMs) {
      this.ownerBusy = false
      this.reason = undefined
      this.mode = 'running'
      out.push({ type: 'resume' })
    } else if (this.mode === 'paused' && t - this.pausedSinceMs >= c.giveBackAfterMs) {
      this.mode = 'returned'
      out.push({ type: 'giveBack' })
    }
  }

  private setAccepting (accepting: boolean, out: OwnerPolicyEffect[]): void {
    if (accepting === this.accepting) return
    this.accepting = accepting
    out.push({ type: 'accepting', accepting })
  }
}

/**
 * --max-cpu: the fraction of each duty period the executors may run, from the last one and the
 * share of the machine (0..1) they actually used over the last measurement. Proportional,
 * with the step bounded so a noisy measurement cannot swing it from one end to the other.
 */
export function nextRunFraction (current: number, measuredShare: number, targetShare: number): number {
  const cur = Number.isFinite(current) ? Math.min(1, Math.max(RUN_FRACTION_MIN, current)) : 1
  if (!(targetShare > 0)) return RUN_FRACTION_MIN
  if (!(measuredShare > 0.001)) return Math.min(1, cur * 1.5 + 0.05)
  const ratio = Math.min(1.5, Math.max(0.5, targetShare / measuredShare))
  return Math.min(1, Math.max(RUN_FRACTION_MIN, cur * ratio))
}
export const RUN_FRACTION_MIN = 0.02
