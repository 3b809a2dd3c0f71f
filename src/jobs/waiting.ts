import { z } from 'zod'
import type { JobState, Requires } from './job-spec.js'
import { missingOn, unsatisfiable } from './requires.js'
import type { WorkerView } from './scheduler-types.js'

// Why a job waits, in words a user can act on. A pure decision from what the coordinator
// knows: the job's state and counts, and the gossiped vectors of the workers (accepting,
// free slots, owner load, why a node yields). The coordinator puts the answer in the job's
// record, so `submit`, `jobs`, `top`, the dashboard and `result --json` all show the same.

export const WAITING_REASONS = ['owners-busy', 'no-free-slots', 'unsatisfiable', 'no-workers', 'coordinator-yielding'] as const
export const WaitingReasonSchema = z.enum(WAITING_REASONS)
export type WaitingReason = z.infer<typeof WaitingReasonSchema>

export const WaitingSchema = z.object({ reason: WaitingReasonSchema, detail: z.string().max(512) }).strict()
export type Waiting = z.infer<typeof WaitingSchema>

/** Why a node yields, as its vector says it (`yielding`): the owner policy's reason and the threshold it used. */
export const YieldingSchema = z.object({
  reason: z.enum(['owner-cpu', 'console', 'hours', 'draining']),
  /** --owner-busy-above (0..1), with reason owner-cpu. */
  busyAbove: z.number().min(0).max(1).optional(),
}).strict()
export type Yielding = z.infer<typeof YieldingSchema>

export interface WaitingInput {
  state: JobState
  selfId: string
  /** Tasks neither done nor running. */
  pending: number
  /** Attempts running now. */
  inFlight: number
  requires?: Requires | undefined
  workers: readonly WorkerView[]
}

/** The reason the job waits, or undefined when it does not (or nothing stops it but a moment's scheduling). */
export function waitingOf (input: WaitingInput): Waiting | undefined {
  const { state, workers } = input
  if (state === 'splitting' || state === 'reducing') {
    const self = workers.find(w => w.peerId === input.selfId)
    if (self === undefined || self.accepting || self.yielding === undefined || self.yielding.reason === 'draining') return undefined
    const step = state === 'splitting' ? 'split' : 'reduce'
    return { reason: 'coordinator-yielding', detail: `coordinator yielding to its owner (${whyOne(self)}): its ${step} runs anyway at low priority` }
  }
  if (state !== 'running' || input.pending <= 0 || input.inFlight > 0) return undefined

  const live = workers.filter(w => (w.status === 'alive' || w.status === 'suspect') && w.slotsTotal > 0)
  if (live.length === 0) return { reason: 'no-workers', detail: 'no live node has slots to run tasks' }
  const eligible = live.filter(w => missingOn(input.requires, w.caps).length === 0)
  if (eligible.length === 0) {
    const why = unsatisfiable(input.requires, live.map(w => w.caps ?? { tools: [], labels: {}, memTotal: 0, cpuCores: 0 }))
    return { reason: 'unsatisfiable', detail: `needs ${needs(input.requires)}: ${why ?? 'no live node offers it'}` }
  }
  const constraint = hasNeeds(input.requires) ? ` offering ${needs(input.requires)}` : ''
  const yielding = eligible.filter(w => !w.accepting)
  if (yielding.length === eligible.length) {
    return { reason: 'owners-busy', detail: `${yielding.length}/${eligible.length} node${plural(eligible.length)}${constraint} yielding to their owners (${whyAll(yielding)})` }
  }
  const accepting = eligible.filter(w => w.accepting)
  if (accepting.every(w => w.slotsFree <= 0)) {
    const slots = accepting.reduce((n, w) => n + w.slotsTotal, 0)
    const rest = yielding.length > 0 ? `; ${yielding.length}/${eligible.length} yielding to their owners (${whyAll(yielding)})` : ''
    return { reason: 'no-free-slots', detail: `no free slots: ${slots}/${slots} busy on ${accepting.length} node${plural(accepting.length)}${constraint}${rest}` }
  }
  return undefined
}

function whyOne (w: WorkerView): string {
  return whyAll([w])
}

/** "owner CPU 67 % > 50 %; outside their --hours window" from the yielding nodes' vectors. */
function whyAll (ws: readonly WorkerView[]): string {
  const parts: string[] = []
  const cpu = ws.filter(w => w.yielding?.reason === 'owner-cpu')
  if (cpu.length > 0) {
    const load = Math.max(...cpu.map(w => w.ownerCpuLoad ?? 0))
    const above = cpu[0]?.yielding?.busyAbove
    parts.push(`owner CPU ${pct(load)}${above !== undefined ? ` > ${pct(above)}` : ''}`)
  }
  if (ws.some(w => w.yielding?.reason === 'console')) parts.push('owner at the console')
  if (ws.some(w => w.yielding?.reason === 'hours')) parts.push('outside --hours')
  if (ws.some(w => w.yielding?.reason === 'draining')) parts.push('draining')
  if (ws.some(w => w.yielding === undefined)) parts.push('not accepting')
  return parts.join('; ')
}

function pct (x: number): string { return `${Math.round(x * 100)} %` }
function plural (n: number): string { return n === 1 ? '' : 's' }

function hasNeeds (req: Requires | undefined): boolean { return missingOn(req, undefined).length > 0 }

/** "tools.cc, zone=x" from a job's requires. */
function needs (req: Requires | undefined): string {
  return missingOn(req, undefined).map(m => m.startsWith('labels.') ? m.slice('labels.'.length) : m).join(', ')
}
