import type { PeerStatus } from '../../gossip/membership.js'
import type { StateVector } from '../../gossip/state-vector.js'

// The `status --json` shape (see design.md): one row per peer, this node included.

export interface PeerRow extends Omit<StateVector, 'status'> {
  status: PeerStatus
}

export interface StatusView { self: string, peers: PeerRow[] }

export function statusView (selfId: string, peers: Array<{ vector: StateVector, status: PeerStatus }>): StatusView {
  return { self: selfId, peers: peers.map(p => ({ ...p.vector, status: p.status })) }
}
