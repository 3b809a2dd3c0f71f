// The --faults grammar. A spec is a comma-separated list of items:
//
//   crash-coordinator@T        crash the node coordinating the most running jobs at T (the master, in master archs)
//   crash-master@T             the same, by its master-slave name
//   crash-node@T[:K]           crash K random nodes at T (K < 1 is a fraction of N; default 1)
//   crash-worker@T[:K]         the worker software dies on K nodes: a supervised executor is restarted by
//                              its daemon, an unsupervised worker is down until workerRestartMs
//   leave@T[:K]                K nodes leave gracefully (they publish a "left" vector first)
//   partition@A-B:F            a fraction F of the nodes cannot reach the others from A until B
//   loss:P                     packet loss: a message is delayed by a retransmission (200 ms, doubling) with probability P
//   churn:R/s                  every node crashes with rate R per second and rejoins after the restart delay
//   restart:D | restart:never  crashed nodes restart after D (default 30s)
//
// Times: 250ms, 30s, 2m, or a bare number of seconds. Example:
//   crash-coordinator@30s,partition@10s-20s:0.3,loss:0.01,churn:0.001/s

export class FaultSpecError extends Error {
  static readonly NAME = 'FaultSpecError'
  constructor (message: string) {
    super(message)
    this.name = FaultSpecError.NAME
  }
}

export type FaultEvent =
  | { kind: 'crash-coordinator', atMs: number }
  | { kind: 'crash-node', atMs: number, count: number }
  | { kind: 'crash-worker', atMs: number, count: number }
  | { kind: 'leave', atMs: number, count: number }
  | { kind: 'partition', fromMs: number, untilMs: number, fraction: number }

export interface FaultPlan {
  events: FaultEvent[]
  loss: number
  churnPerSec: number
  /** undefined = never */
  restartAfterMs: number | undefined
}

export const FAULT_ITEMS_MAX = 64

export function emptyFaultPlan (): FaultPlan {
  return { events: [], loss: 0, churnPerSec: 0, restartAfterMs: 30_000 }
}

export function parseDuration (text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m === null) throw new FaultSpecError(`${where}: "${text}" is not a duration (use 250ms, 30s, 2m or a number of seconds)`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000
}

function parseCount (text: string | undefined, where: string): number {
  if (text === undefined || text === '') return 1
  const n = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || (n >= 1 && !Number.isInteger(n)) || n > 1_000_000) {
    throw new FaultSpecError(`${where}: count "${text}" must be a whole number >= 1 or a fraction between 0 and 1`)
  }
  return n
}

function parseFraction (text: string, where: string, inclusiveZero: boolean): number {
  const n = Number(text)
  if (!/^\d*(\.\d+)?$/.test(text) || text === '' || !(inclusiveZero ? n >= 0 : n > 0) || !(n < 1)) {
    throw new FaultSpecError(`${where}: "${text}" must be a number ${inclusiveZero ? 'from 0' : 'above 0'} and below 1`)
  }
  return n
}

export function parseFaults (spec: string | undefined): FaultPlan {
  const plan = emptyFaultPlan()
  if (spec === undefined || spec.trim() === '' || spec.trim() === 'none') return plan
  const items = spec.split(',').map(s => s.trim()).filter(s => s !== '')
  if (items.length > FAULT_ITEMS_MAX) throw new FaultSpecError(`too many fault items (${items.length}); at most ${FAULT_ITEMS_MAX}`)
  for (const item of items) {
    const where = `fault "${item}"`
    const at = /^([a-z-]+)@([^:]+)(?::(.*))?$/.exec(item)
    if (at !== null) {
      const [, name, when, arg] = at as unknown as [string, string, string, string | undefined]
      switch (name) {
        case 'crash-coordinator':
        case 'crash-master':
          if (arg !== undefined) throw new FaultSpecError(`${where}: ${name} takes no ":" argument`)
          plan.events.push({ kind: 'crash-coordinator', atMs: parseDuration(when, where) })
          break
        case 'crash-node':
        case 'crash-worker':
        case 'leave':
          plan.events.push({ kind: name, atMs: parseDuration(when, where), count: parseCount(arg, where) })
          break
        case 'partition': {
          const range = /^([^-]+)-([^-]+)$/.exec(when)
          if (range === null) throw new FaultSpecError(`${where}: a partition needs a time range like partition@10s-20s:0.3`)
          const fromMs = parseDuration(range[1] as string, where)
          const untilMs = parseDuration(range[2] as string, where)
          if (!(untilMs > fromMs)) throw new FaultSpecError(`${where}: the partition must end after it starts`)
          if (arg === undefined) throw new FaultSpecError(`${where}: give the fraction of nodes cut off, e.g. partition@10s-20s:0.3`)
          plan.events.push({ kind: 'partition', fromMs, untilMs, fraction: parseFraction(arg, where, false) })
          break
        }
        default:
          throw new FaultSpecError(`${where}: unknown fault "${name}" (known: crash-coordinator, crash-master, crash-node, crash-worker, leave, partition)`)
      }
      continue
    }
    const kv = /^([a-z-]+):(.+)$/.exec(item)
    if (kv === null) throw new FaultSpecError(`${where}: expected NAME@TIME[:ARG] or NAME:VALUE`)
    const [, name, value] = kv as unknown as [string, string, string]
    switch (name) {
      case 'loss': plan.loss = parseFraction(value, where, true); break
      case 'churn': {
        const m = /^(\d*\.?\d+)\/s$/.exec(value)
        if (m === null || !(Number(m[1]) >= 0) || Number(m[1]) > 1) throw new FaultSpecError(`${where}: churn is a per-node rate like churn:0.001/s (at most 1/s)`)
        plan.churnPerSec = Number(m[1])
        break
      }
      case 'restart': plan.restartAfterMs = value === 'never' ? undefined : parseDuration(value, where); break
      default:
        throw new FaultSpecError(`${where}: unknown setting "${name}" (known: loss, churn, restart)`)
    }
  }
  plan.events.sort((a, b) => startOf(a) - startOf(b))
  return plan
}

function startOf (e: FaultEvent): number { return e.kind === 'partition' ? e.fromMs : e.atMs }

/** The spec text back from a plan (for reports). */
export function describeFaults (plan: FaultPlan): string {
  const parts: string[] = []
  for (const e of plan.events) {
    if (e.kind === 'partition') parts.push(`partition@${e.fromMs / 1000}s-${e.untilMs / 1000}s:${e.fraction}`)
    else if (e.kind === 'crash-coordinator') parts.push(`crash-coordinator@${e.atMs / 1000}s`)
    else parts.push(`${e.kind}@${e.atMs / 1000}s:${e.count}`)
  }
  if (plan.loss > 0) parts.push(`loss:${plan.loss}`)
  if (plan.churnPerSec > 0) parts.push(`churn:${plan.churnPerSec}/s`)
  if (parts.length > 0 && plan.restartAfterMs !== 30_000) parts.push(`restart:${plan.restartAfterMs === undefined ? 'never' : `${plan.restartAfterMs / 1000}s`}`)
  return parts.length === 0 ? 'none' : parts.join(',')
}
