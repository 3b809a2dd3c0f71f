import type { Random } from '../util/prng.js'
import type { Requires } from './job-spec.js'
import { satisfies, type NodeCaps } from './requires.js'
import type { Attempt } from './job-state.js'
import type { WorkerStatus, WorkerView } from './scheduler-types.js'

// Which worker gets the next attempt. Nothing is dealt in advance: a worker is a candidate
// only while it has room in its window, so workers that finish early are offered more.

export interface WorkerRecord {
  readonly peerId: string
  status: WorkerStatus
  accepting: boolean
  slotsTotal: number
  slotsFree: number
  cpuLoad: number
  caps: NodeCaps | undefined
  /** Most attempts in flight on this worker, across all of this coordinator's jobs. */
  window: number
  /** The same for jobs of short tasks (SchedulerConfig.shortWindowPerSlot): at least `window`. */
  shortWindow: number
  /** Broken stream: no new attempts before this time. */
  unreachableUntilMs: number
  /** Running attempts by id; its size is the worker's in-flight count. */
  readonly attempts: Map<string, Attempt>
  /** How many of `attempts` are of jobs kept on this node, the coordinator's own (see pickLocal). */
  keptLocal: number
}

function clamp (value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) return fallback
  return Math.min(max, Math.max(min, value))
}

const STATUSES: ReadonlySet<string> = new Set(['alive', 'suspect', 'dead', 'left'])

/** A defensive copy of the fields placement uses, or undefined when the view is unusable. */
export function sanitizeView (view: unknown, slotsPerWorkerMax: number): Pick<WorkerView, 'peerId' | 'status' | 'accepting' | 'slotsTotal' | 'slotsFree' | 'cpuLoad' | 'caps'> | undefined {
  if (typeof view !== 'object' || view === null) return undefined
  const v = view as Partial<Record<keyof WorkerView, unknown>>
  if (typeof v.peerId !== 'string' || v.peerId.length === 0) return undefined
  if (typeof v.status !== 'string' || !STATUSES.has(v.status)) return undefined
  const slotsTotal = Math.floor(clamp(v.slotsTotal, 0, slotsPerWorkerMax, 0))
  return {
    peerId: v.peerId,
    status: v.status as WorkerStatus,
    accepting: v.accepting === true,
    slotsTotal,
    slotsFree: Math.floor(clamp(v.slotsFree, 0, slotsTotal, 0)),
    // Unknown load counts as fully loaded.
    cpuLoad: clamp(v.cpuLoad, 0, 1, 1),
    ...(v.caps !== undefined ? { caps: sanitizeCaps(v.caps) } : {}),
  }
}

function sanitizeCaps (caps: unknown): NodeCaps {
  const c = (typeof caps === 'object' && caps !== null ? caps : {}) as Partial<Record<keyof NodeCaps, unknown>>
  const labels: Record<string, string> = {}
  if (typeof c.labels === 'object' && c.labels !== null) for (const [k, v] of Object.entries(c.labels)) if (typeof v === 'string') labels[k] = v
  return {
    tools: Array.isArray(c.tools) ? c.tools.filter((t): t is string => typeof t === 'string') : [],
    labels,
    memTotal: clamp(c.memTotal, 0, Number.MAX_SAFE_INTEGER, 0),
    cpuCores: clamp(c.cpuCores, 0, 1_000_000, 0),
    ...(c.network === true ? { network: true } : {}),
    ...(c.unboxed === true ? { unboxed: true } : {}),
  }
}

export function windowFor (slotsTotal: number, windowPerSlot: number): number {
  return slotsTotal > 0 ? Math.max(1, Math.floor(slotsTotal * windowPerSlot)) : 0
}

/** `short`: for a job of short tasks, which may fill the deeper window. */
export function canTakeNew (w: WorkerRecord, nowMs: number, short = false): boolean {
  return w.status === 'alive' && w.accepting && w.attempts.size < (short ? w.shortWindow : w.window) && nowMs >= w.unreachableUntilMs
}

/**
 * Free capacity as this coordinator sees it: its own window room (exact) plus the gossiped
 * free slots (other coordinators' load, a little stale), scaled down by CPU load. A fully
 * busy CPU halves the score rather than zeroing it, since our own tasks cause part of it.
 */
export function placementScore (w: WorkerRecord): number {
  return (w.window - w.attempts.size + w.slotsFree) * (1 - w.cpuLoad / 2)
}

/**
 * Where an attempt of a job kept on the coordinator's node goes (SchedulerConfig.localRunBelowMsPerSlot):
 * `local`, the coordinator's own worker record, when it can take it; 'wait' when it could but its
 * window is full (a result frees room within a local round trip); undefined when it cannot run the
 * job's tasks now — gone, not taking work, cooling down, lacking what the job requires, the task
 * failed there, or its slots busy with other jobs' tasks, which the job's would queue behind — and
 * the attempt is placed as any other (pickWorker). `window`: the attempts the node may hold (its
 * deeper window; fewer for attempts that carry groups of tasks).
 */
export function pickLocal (local: WorkerRecord | undefined, nowMs: number, avoid?: ReadonlyArray<string>, requires?: Requires, window = local?.shortWindow ?? 0): WorkerRecord | 'wait' | undefined {
  if (local === undefined || local.status !== 'alive' || !local.accepting || nowMs < local.unreachableUntilMs) return undefined
  if (requires !== undefined && !satisfies(requires, local.caps)) return undefined
  if (avoid !== undefined && avoid.includes(local.peerId)) return undefined
  if (local.attempts.size - local.keptLocal >= local.slotsTotal) return undefined
  return local.attempts.size < window ? local : 'wait'
}

/**
 * The best worker that can take a new attempt, or undefined when none can. Workers in
 * `avoid` are used only if no other worker can take it; `exclude` is never used (a backup
 * must run elsewhere), nor a worker lacking what `requires` asks for. `perSlot`: the job's
 * attempts in flight per worker; when given, only a worker running fewer of them than it has
 * slots (none of the job's tasks would queue behind its own). `short`: the job's tasks are short,
 * so a worker's deeper window counts (see canTakeNew). Equal scores are broken by `random`
 * (reservoir sampling, so one draw per tie only). O(workers).
 */
export function pickWorker (workers: ReadonlyArray<WorkerRecord>, nowMs: number, random: Random, avoid?: ReadonlyArray<string>, exclude?: string, requires?: Requires, perSlot?: ReadonlyMap<string, number>, short = false): WorkerRecord | undefined {
  let best: WorkerRecord | undefined
  let bestScore = -Infinity
  let bestTies = 0
  let fallback: WorkerRecord | undefined
  let fallbackScore = -Infinity
  let fallbackTies = 0
  for (const w of workers) {
    if (!canTakeNew(w, nowMs, short) || w.peerId === exclude) continue
    if (perSlot !== undefined && (perSlot.get(w.peerId) ?? 0) >= w.slotsTotal) continue
    if (requires !== undefined && !satisfies(requires, w.caps)) continue
    const score = placementScore(w)
    if (avoid !== undefined && avoid.includes(w.peerId)) {
      if (score > fallbackScore) { fallback = w; fallbackScore = score; fallbackTies = 1 } else if (score === fallbackScore && random() * ++fallbackTies < 1) fallback = w
      continue
    }
    if (score > bestScore) { best = w; bestScore = score; bestTies = 1 } else if (score === bestScore && random() * ++bestTies < 1) best = w
  }
  return best ?? fallback
}
