import type { PeerStatus } from '../../gossip/membership.js'
import type { StateVector } from '../../gossip/state-vector.js'

// The `status --json` shape (see design.md): one row per peer, this node included.

export interface PeerRow extends Omit<StateVector, 'status'> {
  status: PeerStatus
  /**
   * The figures (CPU, memory, disk, slots, tasks, owner load) are the last this node heard, not
   * current: the peer is dead or left, or silent for longer than --dead-after-ms. Views show
   * "—" for them; the fields stay as they were. Absent in answers of older nodes.
   */
  stale?: boolean
  /** How long ago this node last heard from the peer (ms); absent for this node itself. */
  heardAgoMs?: number
}

export interface StatusView { self: string, peers: PeerRow[] }

export interface StalenessClock {
  /** The membership's clock (the same timebase as its lastHeardMs). */
  nowMs: number
  /** Silence after which a peer's figures count as stale (the membership's dead-after). */
  staleAfterMs: number
}

export function statusView (selfId: string, peers: Array<{ vector: StateVector, status: PeerStatus, lastHeardMs?: number }>, clock?: StalenessClock): StatusView {
  return {
    self: selfId,
    peers: peers.map(p => {
      const heardAgoMs = clock !== undefined && p.lastHeardMs !== undefined && p.vector.peerId !== selfId ? Math.max(0, Math.round(clock.nowMs - p.lastHeardMs)) : undefined
      const silent = heardAgoMs !== undefined && clock !== undefined && heardAgoMs >= clock.staleAfterMs
      const stale = p.vector.peerId !== selfId && (p.status === 'dead' || p.status === 'left' || silent)
      return { ...p.vector, status: p.status, stale, ...(heardAgoMs !== undefined ? { heardAgoMs } : {}) }
    }),
  }
}

/** Are a row's figures stale? Rows from older nodes carry no `stale`: dead and left peers are. */
export function isStale (p: Pick<PeerRow, 'status' | 'stale'>): boolean {
  return p.stale ?? (p.status === 'dead' || p.status === 'left')
}

/** What views print in place of a stale figure. */
export const NO_FIGURE = '—'
