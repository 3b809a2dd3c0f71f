import { seededRandom } from '../src/util/prng.js'

// The fault schedule is drawn from the seed alone, so a seed replays the same faults: the
// same kinds, at the same offsets, for the same durations, with the same target picks.
// Targets are resolved at run time by index into the sorted candidates (e.g. the coordinators
// of running jobs), which is as deterministic as a real mesh allows.

export type FaultKind = 'kill-worker' | 'kill-coordinator' | 'pause' | 'restart' | 'partition'

export interface PlannedFault {
  kind: FaultKind
  /** Not before this offset from the start of the run. */
  atMs: number
  /** How long the node stays down or paused. */
  downMs: number
  /** Which candidate, modulo the number of candidates at run time. */
  pick: number
}

const KINDS: Array<[FaultKind, number]> = [['kill-coordinator', 0.3], ['kill-worker', 0.25], ['pause', 0.25], ['restart', 0.2]]
/** With network namespaces, one fault in five cuts the mesh in two. */
const KINDS_WITH_PARTITIONS: Array<[FaultKind, number]> = [['kill-coordinator', 0.25], ['kill-worker', 0.2], ['pause', 0.2], ['restart', 0.15], ['partition', 0.2]]

export function planFaults (seed: number, durationMs: number, gapMsMin = 3000, gapMsMax = 8000, partitions = false): PlannedFault[] {
  const KINDS_USED = partitions ? KINDS_WITH_PARTITIONS : KINDS
  const random = seededRandom(seed)
  const faults: PlannedFault[] = []
  let at = 4000
  while (at < durationMs) {
    const r = random()
    let acc = 0
    const kind = KINDS_USED.find(([, w]) => (acc += w) > r)?.[0] ?? 'restart'
    const downMs = Math.round(2000 + random() * 4000)
    faults.push({ kind, atMs: at, downMs, pick: Math.floor(random() * 1000) })
    at += downMs + Math.round(gapMsMin + random() * (gapMsMax - gapMsMin))
  }
  return faults
}
