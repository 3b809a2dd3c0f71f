import { Socket } from 'node:net'
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'

// Fewer write system calls per TCP connection. Every layer of a libp2p connection (yamux frame
// header and body, noise length prefix and ciphertext, pnet) hands the TCP socket its own small
// buffer, and @libp2p/tcp writes each with its own socket.write(): under the empty-task benchmark
// those writes were a quarter to a third of each daemon's CPU profile (`writeBuffer`). Corking
// the socket for the rest of the current turn makes everything written in that turn — an RPC
// batch, the yamux window update it triggers, a gossip message — leave in one writev().
// Nothing is delayed past the turn (uncork runs on process.nextTick), and backpressure is
// unchanged: write() still returns false above the socket's high-water mark.

type ProtectorFactory = (components: any) => ConnectionProtector

/** A connection protector that corks the raw TCP connection, then applies `inner` (e.g. pnet), if any. */
export function corkingProtector (inner?: ProtectorFactory): ProtectorFactory {
  return components => {
    const protector = inner?.(components)
    return {
      async protect (connection: MessageStream, options) {
        corkPerTurn(connection)
        return protector !== undefined ? await protector.protect(connection, options) : connection
      },
    }
  }
}

/** Wrap the connection's sendData so the first write of a turn corks its socket until the turn ends. */
export function corkPerTurn (connection: object): boolean {
  const conn = connection as { socket?: unknown, sendData?: (data: unknown) => unknown }
  const socket = conn.socket
  const sendData = conn.sendData
  if (!(socket instanceof Socket) || typeof sendData !== 'function') return false
  const uncork = (): void => { socket.uncork() }
  conn.sendData = function (this: unknown, data: unknown) {
    if (socket.writableCorked === 0 && !socket.destroyed) {
      socket.cork()
      process.nextTick(uncork)
    }
    return sendData.call(this, data)
  }
  return true
}
