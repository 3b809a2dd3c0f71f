/** A peer id as messages name it: its last 8 characters (libp2p ids share their prefix). */
export function shortPeer (peerId: string): string {
  return peerId.length > 10 ? `…${peerId.slice(-8)}` : peerId
}
