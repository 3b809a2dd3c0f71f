import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import type { MeshLibp2p } from './libp2p.js'

/**
 * Opens a stream of `protocol` to `peerId`. A peer known only from gossip has no addresses in
 * libp2p's peer store yet: dialling it by id alone fails ("no valid addresses"), so the store
 * first gets what its state vector announces (`addrs`).
 */
export async function dialPeer (node: MeshLibp2p, peerId: string, protocol: string, addrs: string[], signal: AbortSignal): Promise<Stream> {
  const id = peerIdFromString(peerId)
  if (addrs.length > 0) await node.peerStore.merge(id, { multiaddrs: addrs.map(a => multiaddr(a)) }).catch(() => {})
  return await node.dialProtocol(id, protocol, { signal })
}
