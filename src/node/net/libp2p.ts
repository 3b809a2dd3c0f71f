import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { mdns } from '@libp2p/mdns'
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface'
import { createHash } from 'node:crypto'
import { patchYamuxWindowUpdates } from './yamux-window.js'
import { patchLengthPrefixedDecoder } from './length-prefix-patch.js'

export interface MeshTransportOptions {
  privateKey: PrivateKey
  host: string
  port: number
  mdns: boolean
  /** mDNS service tag: peers only find others with the same tag. */
  mdnsServiceTag: string
  /** Extra libp2p connection protector (the mesh key's pnet, when configured). */
  connectionProtector?: Libp2pOptions['connectionProtector']
}

export type MeshLibp2p = Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: GossipSub }>

export async function createMeshLibp2p (opts: MeshTransportOptions): Promise<MeshLibp2p> {
  patchYamuxWindowUpdates()
  patchLengthPrefixedDecoder()
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (opts.mdns) peerDiscovery.push(mdns({ serviceTag: opts.mdnsServiceTag, interval: 1000 }))
  return await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: [`/ip4/${opts.host}/tcp/${opts.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(opts.connectionProtector !== undefined ? { connectionProtector: opts.connectionProtector } : {}),
    peerDiscovery,
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Vectors must be signed by their origin: the membership core checks signer == vector.peerId.
        globalSignaturePolicy: 'StrictSign',
        maxInboundDataLength: 256 * 1024,
        fastMsgIdFn: gossipCopyId,
      }),
    },
  }) as unknown as MeshLibp2p
}

/**
 * Names a gossip message before its signature is checked, so the copies of one message that
 * arrive from several mesh peers are dropped as duplicates instead of each being verified
 * (without it gossipsub verifies every copy: at 8 nodes signature checks took a quarter of every
 * daemon's CPU). Only messages that passed validation are remembered under this id, so a forged
 * copy cannot shadow the real one; data is part of the id, so a forgery with another payload is
 * verified (and refused) rather than taken for a copy.
 */
export function gossipCopyId (msg: { from?: Uint8Array, seqno?: Uint8Array, data?: Uint8Array }): string {
  const h = createHash('sha1')
  for (const part of [msg.from, msg.seqno, msg.data]) {
    h.update(String(part?.length ?? -1)).update(':')
    if (part !== undefined) h.update(part)
  }
  return h.digest('base64')
}
