import { EventEmitter } from 'node:events'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { UnauthenticatedConnections } from '../../src/node/api/api-connections.js'
import { ApiServer } from '../../src/node/api/api-server.js'
import { createLogger } from '../../src/node/host/logger.js'
import { waitFor } from '../helpers/wait.js'

class FakeSocket extends EventEmitter {
  destroyed = false
  destroy (): void { this.destroyed = true; this.emit('close') }
}

describe('the cap on unauthenticated connections', () => {
  it('closes the oldest unauthenticated connection beyond the cap, never an authenticated one', () => {
    const cap = new UnauthenticatedConnections<FakeSocket>(3)
    const s = Array.from({ length: 6 }, () => new FakeSocket())
    cap.add(s[0]!)
    cap.add(s[1]!)
    cap.authenticated(s[1]!) // the owner's: no longer counted
    cap.add(s[2]!)
    cap.add(s[3]!)
    expect(cap.count).toBe(3)
    cap.add(s[4]!) // over the cap: the oldest waiting one (s0) goes
    expect(s.map(x => x.destroyed)).toEqual([true, false, false, false, false, false])
    cap.add(s[5]!)
    expect(s.map(x => x.destroyed)).toEqual([true, false, true, false, false, false])
    expect(cap.count).toBe(3)
    expect(cap.evicted).toBe(2)
  })

  it('forgets connections that close on their own', () => {
    const cap = new UnauthenticatedConnections<FakeSocket>(2)
    const a = new FakeSocket()
    const b = new FakeSocket()
    cap.add(a)
    cap.add(b)
    a.emit('close')
    expect(cap.count).toBe(1)
    cap.add(new FakeSocket())
    expect(b.destroyed).toBe(false)
  })

  it('a cap below 1 is taken as 1', () => {
    const cap = new UnauthenticatedConnections<FakeSocket>(0)
    cap.add(new FakeSocket())
    expect(cap.count).toBe(1)
  })
})

describe('the control API server', () => {
  const servers: ApiServer[] = []
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    for (const s of servers.splice(0)) await s.close()
  })

  const TOKEN = 'unit-test-token-0123456789'
  async function start (max = 4): Promise<{ api: ApiServer, url: string, port: number }> {
    const api = new ApiServer({ port: 0, bodyBytesMax: 1024, log: createLogger('silent'), token: TOKEN, unauthenticatedConnectionsMax: max })
    api.route('GET', '/status', () => ({ ok: true }))
    api.route('POST', '/echo', req => ({ body: req.body }))
    api.route('GET', '/', () => ({ page: true }), { public: true })
    servers.push(api)
    const url = await api.listen()
    return { api, url, port: Number(new URL(url).port) }
  }

  async function idle (port: number): Promise<Socket> {
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    socket.on('error', () => {})
    socket.resume()
    await new Promise<void>(resolve => socket.once('connect', () => resolve()))
    return socket
  }

  it('keeps at most the cap of idle connections, and a client with the token still gets through', async () => {
    const { api, url, port } = await start(4)
    const idles: Socket[] = []
    for (let i = 0; i < 10; i++) idles.push(await idle(port))
    await waitFor('the oldest idle connections to be closed', () => idles.filter(s => s.destroyed || s.readableEnded).length >= 6 || undefined, 10_000)
    expect(api.unauthenticated.count).toBeLessThanOrEqual(4)
    const res = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(api.unauthenticated.evicted).toBeGreaterThanOrEqual(6)
  })

  it('takes the token from the Authorization header only, and serves public routes without it', async () => {
    const { url } = await start()
    expect((await fetch(`${url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200)
    expect((await fetch(`${url}/status?token=${TOKEN}`)).status).toBe(401)
    expect((await fetch(`${url}/status`, { headers: { cookie: `meshwork_token=${TOKEN}` } })).status).toBe(401)
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('set-cookie')).toBeNull()
  })

  it('answers JSON errors: wrong Host 421, text/plain 415, bad path 400; JSON with the token passes', async () => {
    const { url, port } = await start()
    const auth = { authorization: `Bearer ${TOKEN}` }
    const plain = await fetch(`${url}/echo`, { method: 'POST', headers: auth, body: '{"a":1}' })
    expect(plain.status).toBe(415)
    expect((await plain.json() as { error: string }).error).toMatch(/Content-Type: application\/json/)
    const ok = await fetch(`${url}/echo`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"a":1}' })
    expect(await ok.json()).toEqual({ body: { a: 1 } })
    const bad = await fetch(`${url}/jobs/%E0%A4%A`, { headers: auth })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: 'malformed percent-encoding in the path "/jobs/%E0%A4%A"' })
    const host = await rawRequest(port, `GET /status HTTP/1.1\r\nHost: evil.example:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)
    expect(host).toMatch(/^HTTP\/1\.1 421 /)
    expect(host).toMatch(/"error":"refused: Host/)
  })

  it('answers garbage with a JSON 400 and closes', async () => {
    const { port } = await start()
    expect(await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request[\s\S]*"error":"malformed HTTP request"/)
  })
})

async function rawRequest (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let out = ''
    socket.setEncoding('utf8')
    socket.on('data', d => { out += d })
    socket.on('close', () => resolve(out))
    socket.on('error', reject)
  })
}
