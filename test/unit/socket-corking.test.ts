import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { corkPerTurn } from '../../src/node/net/socket-corking.js'

// A real loopback TCP connection: the writes of one turn must leave in one writev, in order,
// and nothing may wait for a later turn.

let server: Server | undefined
let client: Socket | undefined
afterEach(() => {
  client?.destroy()
  server?.close()
})

async function pair (): Promise<{ client: Socket, received: () => string }> {
  let data = ''
  server = createServer(s => { s.setEncoding('utf8'); s.on('data', d => { data += d }) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  return { client, received: () => data }
}

/** What @libp2p/tcp's connection does: one socket.write per buffer it is handed. */
function tcpConnection (socket: Socket): { socket: Socket, sendData: (bufs: string[]) => boolean } {
  return { socket, sendData (bufs) { let ok = true; for (const b of bufs) ok = socket.write(b); return ok } }
}

async function until (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 10))
}

describe('corkPerTurn', () => {
  it('sends everything written in one turn with one writev, in order', async () => {
    const { client, received } = await pair()
    const conn = tcpConnection(client)
    expect(corkPerTurn(conn)).toBe(true)
    const calls = { writev: 0, write: 0 }
    const s = client as unknown as { _writev: (...a: unknown[]) => unknown, _write: (...a: unknown[]) => unknown }
    const writev = s._writev.bind(client)
    const write = s._write.bind(client)
    s._writev = (...a) => { calls.writev++; return writev(...a) }
    s._write = (...a) => { calls.write++; return write(...a) }
    conn.sendData(['header-1|', 'body-1|'])
    conn.sendData(['header-2|', 'body-2|'])
    conn.sendData(['window-update|'])
    expect(calls).toEqual({ writev: 0, write: 0 }) // still corked in this turn
    await until(() => received().length >= 43)
    expect(received()).toBe('header-1|body-1|header-2|body-2|window-update|')
    expect(calls).toEqual({ writev: 1, write: 0 })
    // A later turn is not held back by the earlier one.
    conn.sendData(['next-turn'])
    await until(() => received().endsWith('next-turn'))
    expect(received().endsWith('next-turn')).toBe(true)
  })

  it('leaves connections that are not TCP sockets alone', () => {
    const conn = { socket: {}, sendData: () => true }
    expect(corkPerTurn(conn)).toBe(false)
    expect(corkPerTurn({})).toBe(false)
  })
})
