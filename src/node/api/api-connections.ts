// Connections to the control API that have not yet presented the token. Anyone on the machine
// can open them (the port is on 127.0.0.1, the token is not needed to connect), so without a
// cap a local user could hold thousands open and starve the node of file descriptors. Beyond
// the cap the *oldest* such connection is closed rather than the new one refused: a client
// with the token sends it within milliseconds of connecting and then no longer counts, so an
// idle crowd cannot lock it out. Connections with the token are the owner's and not capped here
// (the dashboard's event streams have their own limit, events-stream.ts).

/** What the cap needs of a socket (a net.Socket; a fake in unit tests). */
export interface CappedSocket {
  destroy: () => void
  once: (event: 'close', listener: () => void) => unknown
}

export class UnauthenticatedConnections<S extends CappedSocket = CappedSocket> {
  /** Insertion order is age: the first is the oldest. */
  private readonly waiting = new Set<S>()
  private closedForCap = 0

  readonly max: number

  constructor (max: number) { this.max = Math.max(1, Math.floor(max)) }

  get count (): number { return this.waiting.size }
  /** Connections closed so far to stay under the cap. */
  get evicted (): number { return this.closedForCap }

  /** A new connection: counted until it presents the token. */
  add (socket: S): void {
    while (this.waiting.size >= this.max) {
      const oldest = this.waiting.values().next().value as S
      this.waiting.delete(oldest)
      this.closedForCap++
      oldest.destroy()
    }
    this.waiting.add(socket)
    socket.once('close', () => { this.waiting.delete(socket) })
  }

  /** The connection sent a valid token: it is the owner's now. */
  authenticated (socket: S): void {
    this.waiting.delete(socket)
  }
}
