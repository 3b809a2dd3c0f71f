import { MAX_GOSSIP_MESSAGE_BYTES } from './messages.js'

export interface MembershipConfig {
  /** Publish our vector at least this often. */
  publishIntervalMs: number
  /** Changes worth publishing at once are still spaced by at least this much. */
  publishGapMinMs: number
  /**
   * The same for a change of load band alone (idle, busy, full): a node running tiny tasks
   * changes band hundreds of times a second, and each published vector is verified by every peer.
   */
  loadPublishGapMs: number
  /**
   * A gap between two ticks longer than this means this node itself was not running (SIGSTOP,
   * swapped out, a blocked event loop): its peers' silence during the gap is not counted
   * against them. Default: publishIntervalMs.
   */
  stallAfterMs?: number
  /** Silence after which a peer is suspected. */
  suspectAfterMs: number
  /** Silence after which a peer is dead (a crashed node is dead within this + one tick). */
  deadAfterMs: number
  /** Dead and left peers are forgotten after this long. */
  forgetAfterMs: number
  /** Most suspect notices re-sent per publish round. */
  suspectNoticesPerRoundMax: number
  peersMax: number
  messageBytesMax: number
}

// LAN defaults: vectors every second, a crashed node is suspect after 2.5 s of silence and
// dead after 4.5 s, so "dead within 5 s" holds with the binding ticking every 100 ms.
export const DEFAULT_MEMBERSHIP_CONFIG: MembershipConfig = {
  publishIntervalMs: 1000,
  publishGapMinMs: 100,
  loadPublishGapMs: 500,
  suspectAfterMs: 2500,
  deadAfterMs: 4500,
  forgetAfterMs: 10 * 60_000,
  suspectNoticesPerRoundMax: 16,
  peersMax: 10_000,
  messageBytesMax: MAX_GOSSIP_MESSAGE_BYTES,
}

export function membershipConfig (overrides: Partial<MembershipConfig> = {}): MembershipConfig {
  const config = { ...DEFAULT_MEMBERSHIP_CONFIG, ...overrides }
  if (!(config.suspectAfterMs > config.publishIntervalMs)) throw new Error('suspectAfterMs must exceed publishIntervalMs')
  if (!(config.deadAfterMs > config.suspectAfterMs)) throw new Error('deadAfterMs must exceed suspectAfterMs')
  return config
}
