import { z } from 'zod'
import { YieldingSchema } from '../jobs/waiting.js'

// A node's state vector: what it tells the mesh about itself. Versioned by
// (incarnation, version): a higher incarnation always wins (restart or refutation),
// within one incarnation the higher version wins.

const count = z.number().int().min(0).max(1_000_000)
const bytes = z.number().min(0).max(2 ** 60)
const fraction = z.number().min(0).max(1)
const shortText = z.string().max(256)

/** A node's name for people (`meshwork start --name`, default the hostname): what status, top and the dashboard show. */
export const NODE_NAME_MAX = 64
export const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
export const NodeNameSchema = z.string().min(1).max(NODE_NAME_MAX).regex(NODE_NAME_RE, 'letters, digits, . _ - (starting with a letter or digit)')

export const StateVectorSchema = z.object({
  peerId: z.string().min(1).max(128),
  /** Optional: peers older than the field send none. */
  name: NodeNameSchema.optional(),
  addrs: z.array(z.string().max(512)).max(32),
  incarnation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  status: z.enum(['alive', 'left']),
  cpuCores: count,
  cpuLoad: fraction,
  memFree: bytes,
  memTotal: bytes,
  diskFree: bytes,
  ioLoad: fraction,
  slotsTotal: count,
  slotsFree: count,
  runningTasks: count,
  uptimeMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  softwareVersion: shortText,
  ownerCpuLoad: fraction,
  accepting: z.boolean(),
  labels: z.record(shortText, shortText).refine(r => Object.keys(r).length <= 64, 'at most 64 labels'),
  tools: z.array(shortText).max(64),
  /** Jobs that declare `network: true` may run here (`--allow-network`). */
  network: z.boolean().optional(),
  /** Its tasks run without a sandbox (`--sandbox none`): one of them could kill the node. */
  unboxed: z.boolean().optional(),
  os: shortText,
  arch: shortText,
  nodeVersion: shortText,
  apiUrl: shortText.optional(),
  /** `meshwork drain` in progress: not accepting, not to be elected for new jobs. */
  draining: z.boolean().optional(),
  /** Why it does not accept tasks now (its owner policy), while it yields: jobs say why they wait. */
  yielding: YieldingSchema.optional(),
  /** Random per process start: a restarted node (same peer id) has lost what it held in memory. */
  bootId: z.string().max(64),
}).strict()

export type StateVector = z.infer<typeof StateVectorSchema>

/** The measured part of a vector, supplied by the binding's OS probes. */
export type LocalMetrics = Omit<StateVector, 'peerId' | 'incarnation' | 'version' | 'status'>

/** Fields whose change is worth publishing at once rather than on the next interval. */
export const IMMEDIATE_FIELDS: ReadonlyArray<keyof LocalMetrics> = [
  'addrs', 'slotsTotal', 'accepting', 'labels', 'tools', 'network', 'unboxed', 'apiUrl', 'draining', 'yielding',
]

/**
 * Slots change with every task; only a move between idle, partly busy and full is published at
 * once (the rest rides on the next interval). A busy node published after each task, and every
 * peer verified each of those signed vectors: at 8 nodes that was most of the mesh's CPU.
 */
export function loadBand (m: Pick<LocalMetrics, 'slotsFree' | 'slotsTotal'>): 'idle' | 'busy' | 'full' {
  return m.slotsFree <= 0 ? 'full' : m.slotsFree >= m.slotsTotal ? 'idle' : 'busy'
}

/** Is `a` newer than `b`? */
export function isNewer (a: { incarnation: number, version: number }, b: { incarnation: number, version: number }): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.version > b.version)
}
