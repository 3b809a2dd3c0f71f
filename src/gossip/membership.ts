import { membershipConfig, type MembershipConfig } from './config.js'
import { decodeGossip, encodeGossip, type GossipMessage } from './messages.js'
import { IMMEDIATE_FIELDS, isNewer, loadBand, type LocalMetrics, type StateVector } from './state-vector.js'

// The membership core: state vectors by gossip plus failure detection.
// Sans-IO: the binding feeds events with `now` and performs the effects it returns.

export type PeerStatus = 'alive' | 'suspect' | 'dead' | 'left'

/** Not known to be gone: alive, or only suspected (suspicion is not death). */
export function notGone (status: PeerStatus): boolean {
  return status === 'alive' || status === 'suspect'
}

export interface PeerEntry {
  vector: StateVector
  status: PeerStatus
  /** Local time we last received a newer vector from this peer. */
  lastHeardMs: number
  statusSinceMs: number
  /** While suspect: the incarnation that a refutation must exceed. */
  suspectIncarnation: number
}

export type MembershipEvent =
  | { type: 'tick' }
  | { type: 'metrics', metrics: LocalMetrics }
  | { type: 'message', from: string, data: Uint8Array }
  | { type: 'leave' }

export type MembershipEffect =
  | { type: 'publish', data: Uint8Array }
  | { type: 'peerStatus', peerId: string, status: PeerStatus, previous: PeerStatus | 'unknown' }
  | { type: 'dropped', from: string, reason: string }
  | { type: 'refuted', incarnation: number }
  /** This node did not tick for `gapMs`: the peers' silence in that time was forgiven. */
  | { type: 'stalled', gapMs: number }

export class Membership {
  readonly config: MembershipConfig
  private selfVector: StateVector
  private readonly peerEntries = new Map<string, PeerEntry>()
  private lastPublishMs = -Infinity
  private lastTickMs: number | undefined
  private changePending = true
  /** The smallest gap before the pending change may go out (publishGapMinMs, or loadPublishGapMs for load alone). */
  private pendingGapMs = 0
  private left = false
  droppedMessages = 0

  constructor (self: { peerId: string, incarnation: number, metrics: LocalMetrics }, config: Partial<MembershipConfig> = {}) {
    this.config = membershipConfig(config)
    this.selfVector = { ...self.metrics, peerId: self.peerId, incarnation: self.incarnation, version: 0, status: 'alive' }
  }

  get selfId (): string { return this.selfVector.peerId }
  get self (): StateVector { return this.selfVector }

  step (event: MembershipEvent, now: number): MembershipEffect[] {
    const effects: MembershipEffect[] = []
    switch (event.type) {
      case 'tick': this.onTick(now, effects); break
      case 'metrics': this.onMetrics(event.metrics, now, effects); break
      case 'message': this.onMessage(event.from, event.data, now, effects); break
      case 'leave': this.onLeave(now, effects); break
    }
    return effects
  }

  /** Every known peer, this node first; for the others, when a newer vector last came in (local time). */
  peers (): Array<{ vector: StateVector, status: PeerStatus, lastHeardMs?: number }> {
    const selfStatus: PeerStatus = this.left ? 'left' : 'alive'
    return [{ vector: this.selfVector, status: selfStatus }, ...[...this.peerEntries.values()].map(e => ({ vector: e.vector, status: e.status, lastHeardMs: e.lastHeardMs }))]
  }

  peer (peerId: string): PeerEntry | undefined { return this.peerEntries.get(peerId) }

  /** Every peer not known to be gone, this node included. */
  activePeerIds (): string[] {
    return this.peers().filter(p => notGone(p.status)).map(p => p.vector.peerId)
  }

  /**
   * The boot id of a peer that is not known to be gone (alive or only suspect), for failover
   * decisions: a restart changes it. Suspect is not dead — failing over on suspicion turned every
   * stall of a few seconds (a node parsing a 100 MB message) into a claim or a resubmission.
   */
  liveBoot (peerId: string): string | undefined {
    const entry = this.peerEntries.get(peerId)
    return entry !== undefined && notGone(entry.status) ? entry.vector.bootId : undefined
  }

  private onTick (now: number, effects: MembershipEffect[]): void {
    this.forgiveOwnStall(now, effects)
    this.detectFailures(now, effects)
    if (this.left) return
    const due = now - this.lastPublishMs >= this.config.publishIntervalMs
    const changeDue = this.changePending && now - this.lastPublishMs >= this.pendingGapMs
    if (due || changeDue) {
      this.publishSelf(now, effects)
      if (due) this.resendSuspicions(effects)
    }
  }

  /**
   * After a pause of this node, every peer would look silent for as long as the pause lasted,
   * and a node resuming from SIGSTOP would declare the whole mesh dead (and, say, resubmit its
   * jobs to itself). Peers are not to blame for time this node did not run: credit it to them.
   */
  private forgiveOwnStall (now: number, effects: MembershipEffect[]): void {
    const last = this.lastTickMs
    this.lastTickMs = now
    if (last === undefined) return
    const gapMs = now - last
    if (gapMs <= (this.config.stallAfterMs ?? this.config.publishIntervalMs)) return
    for (const entry of this.peerEntries.values()) {
      if (notGone(entry.status)) entry.lastHeardMs = Math.min(now, entry.lastHeardMs + gapMs)
    }
    effects.push({ type: 'stalled', gapMs })
  }

  private detectFailures (now: number, effects: MembershipEffect[]): void {
    for (const [peerId, entry] of this.peerEntries) {
      if (entry.status === 'dead' || entry.status === 'left') {
        if (now - entry.statusSinceMs >= this.config.forgetAfterMs) this.peerEntries.delete(peerId)
        continue
      }
      const silenceMs = now - entry.lastHeardMs
      if (silenceMs >= this.config.deadAfterMs) {
        this.setStatus(peerId, entry, 'dead', now, effects)
      } else if (silenceMs >= this.config.suspectAfterMs && entry.status === 'alive') {
        entry.suspectIncarnation = entry.vector.incarnation
        this.setStatus(peerId, entry, 'suspect', now, effects)
        if (!this.left) effects.push({ type: 'publish', data: encodeGossip({ t: 'suspect', peerId, incarnation: entry.vector.incarnation }) })
      }
    }
  }

  private resendSuspicions (effects: MembershipEffect[]): void {
    let sent = 0
    for (const [peerId, entry] of this.peerEntries) {
      if (sent >= this.config.suspectNoticesPerRoundMax) break
      if (entry.status !== 'suspect') continue
      effects.push({ type: 'publish', data: encodeGossip({ t: 'suspect', peerId, incarnation: entry.suspectIncarnation }) })
      sent++
    }
  }

  private onMetrics (metrics: LocalMetrics, now: number, effects: MembershipEffect[]): void {
    const before = this.selfVector
    // Asked on every load change: the same array or object (the daemon reuses them) needs no JSON.
    const stateChanged = IMMEDIATE_FIELDS.some(k => before[k] !== metrics[k] && JSON.stringify(before[k]) !== JSON.stringify(metrics[k]))
    const loadChanged = loadBand(before) !== loadBand(metrics)
    this.selfVector = { ...before, ...metrics }
    if (stateChanged || loadChanged) {
      const gapMs = stateChanged ? this.config.publishGapMinMs : this.config.loadPublishGapMs
      this.pendingGapMs = this.changePending ? Math.min(this.pendingGapMs, gapMs) : gapMs
      this.changePending = true
      if (!this.left && now - this.lastPublishMs >= this.pendingGapMs) this.publishSelf(now, effects)
    }
  }

  private onLeave (now: number, effects: MembershipEffect[]): void {
    if (this.left) return
    this.left = true
    this.selfVector = { ...this.selfVector, status: 'left' }
    this.publishSelf(now, effects)
  }

  private publishSelf (now: number, effects: MembershipEffect[]): void {
    this.selfVector = { ...this.selfVector, version: this.selfVector.version + 1 }
    this.lastPublishMs = now
    this.changePending = false
    effects.push({ type: 'publish', data: encodeGossip({ t: 'vector', v: this.selfVector }) })
  }

  private onMessage (from: string, data: Uint8Array, now: number, effects: MembershipEffect[]): void {
    const decoded = decodeGossip(data, this.config.messageBytesMax)
    if (!decoded.ok) return this.drop(from, decoded.reason, effects)
    const message: GossipMessage = decoded.message
    if (message.t === 'vector') this.onVector(from, message.v, now, effects)
    else this.onSuspect(message.peerId, message.incarnation, now, effects)
  }

  private onVector (from: string, vector: StateVector, now: number, effects: MembershipEffect[]): void {
    // Gossip is signed by its origin: a vector must describe the peer that signed it.
    if (vector.peerId !== from) return this.drop(from, `vector claims peer ${vector.peerId} but was signed by ${from}`, effects)
    if (from === this.selfId) return this.drop(from, 'vector about this node from the network', effects)
    const entry = this.peerEntries.get(from)
    if (entry === undefined) {
      if (this.peerEntries.size >= this.config.peersMax) return this.drop(from, `peer table full (${this.config.peersMax})`, effects)
      const fresh: PeerEntry = { vector, status: 'alive', lastHeardMs: now, statusSinceMs: now, suspectIncarnation: 0 }
      this.peerEntries.set(from, fresh)
      effects.push({ type: 'peerStatus', peerId: from, status: 'alive', previous: 'unknown' })
      if (vector.status === 'left') this.setStatus(from, fresh, 'left', now, effects)
      return
    }
    if (!isNewer(vector, entry.vector)) return // stale or duplicate: not evidence of life
    entry.vector = vector
    entry.lastHeardMs = now
    if (vector.status === 'left') return this.setStatus(from, entry, 'left', now, effects)
    if (entry.status === 'suspect' && vector.incarnation <= entry.suspectIncarnation) return
    if (entry.status !== 'alive') this.setStatus(from, entry, 'alive', now, effects)
  }

  private onSuspect (peerId: string, incarnation: number, now: number, effects: MembershipEffect[]): void {
    if (peerId === this.selfId) {
      if (this.left || incarnation < this.selfVector.incarnation) return
      // Refute: a higher incarnation overrides every suspicion of the old one.
      this.selfVector = { ...this.selfVector, incarnation: incarnation + 1 }
      effects.push({ type: 'refuted', incarnation: incarnation + 1 })
      this.publishSelf(now, effects)
      return
    }
    const entry = this.peerEntries.get(peerId)
    if (entry === undefined || entry.status !== 'alive' || entry.vector.incarnation > incarnation) return
    entry.suspectIncarnation = incarnation
    this.setStatus(peerId, entry, 'suspect', now, effects)
  }

  private setStatus (peerId: string, entry: PeerEntry, status: PeerStatus, now: number, effects: MembershipEffect[]): void {
    if (entry.status === status) return
    const previous = entry.status
    entry.status = status
    entry.statusSinceMs = now
    effects.push({ type: 'peerStatus', peerId, status, previous })
  }

  private drop (from: string, reason: string, effects: MembershipEffect[]): void {
    this.droppedMessages++
    effects.push({ type: 'dropped', from, reason })
  }
}
