import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { MeshLibp2p } from './libp2p.js'
import type { Logger } from '../host/logger.js'
import { MESH_KEY_MISMATCH_EVENT, type MeshKeyMismatch } from '../../security/mesh-key-check.js'
import { MeshKeyRefusals } from './mesh-key-refusals.js'

// Keeps the mesh connected: re-dials bootstrap addresses (a restarted bootstrap peer comes
// back on its own), dials peers learned from gossip, and dials what mDNS finds (mDNS only
// discovers; tie-break on peer id so only one side dials). Tells the operator about peers that
// connect with another mesh key (mesh-key-refusals.ts), which would otherwise fail silently.

export interface PeerAddrs { peerId: string, addrs: string[] }

export class Connectivity {
  private readonly bootstrap: Multiaddr[]
  private readonly dialing = new Set<string>()

  constructor (private readonly node: MeshLibp2p, bootstrap: string[], private readonly log: Logger) {
    this.bootstrap = bootstrap.map(a => multiaddr(a))
    node.addEventListener('peer:discovery', evt => {
      const { id, multiaddrs } = evt.detail
      if (this.isConnected(id.toString()) || !this.weDial(id.toString())) return
      this.dial(id.toString(), multiaddrs)
    })
    const refusals = new MeshKeyRefusals(log)
    // Dispatched by the mesh key's connection protector (src/security/mesh-key-check.ts).
    ;(node as unknown as EventTarget).addEventListener(MESH_KEY_MISMATCH_EVENT, evt => {
      const detail = (evt as CustomEvent<MeshKeyMismatch>).detail
      if (detail !== undefined) refusals.note(detail, Date.now())
    })
  }

  /** Called periodically by the daemon with the peers membership believes alive. */
  maintain (alivePeers: PeerAddrs[]): void {
    for (const addr of this.bootstrap) {
      const id = addr.getComponents().find(c => c.name === 'p2p')?.value
      const key = id ?? addr.toString()
      if (id !== undefined ? this.isConnected(id) : this.connectedTo(addr)) continue
      this.dial(key, [addr])
    }
    for (const peer of alivePeers) {
      if (this.isConnected(peer.peerId) || peer.addrs.length === 0) continue
      this.dial(peer.peerId, peer.addrs.map(a => multiaddr(a)))
    }
  }

  private weDial (other: string): boolean {
    return this.node.peerId.toString() < other
  }

  private isConnected (peerId: string): boolean {
    return this.node.getConnections().some(c => c.remotePeer.toString() === peerId && c.status === 'open')
  }

  private connectedTo (addr: Multiaddr): boolean {
    const text = addr.toString()
    return this.node.getConnections().some(c => c.remoteAddr.toString().startsWith(text))
  }

  private dial (key: string, addrs: Multiaddr[]): void {
    if (this.dialing.has(key) || key === this.node.peerId.toString()) return
    this.dialing.add(key)
    this.node.dial(addrs, { signal: AbortSignal.timeout(5000) })
      .catch((err: Error) => this.log.debug({ peer: key, err: err.message }, 'dial failed'))
      .finally(() => this.dialing.delete(key))
  }
}

