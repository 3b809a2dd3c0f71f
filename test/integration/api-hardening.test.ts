import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { buildSubmitRequest } from '../../src/node/cli/submit.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// The control API refuses what a web page could forge, and the CLI escapes what the mesh
// sends, with a real node process on 127.0.0.1:
//   - a page on another local port cannot submit a job: text/plain POSTs (what a no-cors fetch
//     sends), cookies, ?token=, foreign Host, Origin or Sec-Fetch-Site are all refused;
//   - a malformed path is a 400 naming it, never a 500 with a stack in the log;
//   - `jobs`, `top` and `submit` escape control characters of a module name and an error;
//   - a peer with another mesh key is logged at info level, once;
//   - idle connections without the token are capped, and the owner still gets through.

const DEADLINE_MS = 90_000
/** Control characters a hostile module name or error could carry: ESC sequences, an OSC title, BEL, a bidi override. */
const EVIL = '\x1b[31m\x1b]0;owned\x07\u202e'
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/

let base: string
let mesh: LocalMesh
let outsider: LocalMesh | undefined
let moduleFile: string
let validJob: unknown

const api = (): string => mesh.nodes[0]!.apiUrl
const port = (): number => Number(new URL(api()).port)
const nodeLog = (): string => readFileSync(join(mesh.nodes[0]!.dataDir, 'node.log'), 'utf8')
const jobsKnown = async (): Promise<JobRecord[]> => (await (await mesh.fetch(0, '/jobs')).json() as { jobs: JobRecord[] }).jobs

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'meshwork-api-hardening-'))
  // A job module whose file name holds control characters (the job's moduleName is its base
  // name), and whose task fails with control characters in its error when asked to.
  mkdirSync(join(base, 'modules'))
  moduleFile = join(base, 'modules', `evil${EVIL}.mjs`)
  writeFileSync(moduleFile, [
    'export default {',
    '  split (input) { return [input] },',
    "  map (chunk) { if (chunk.fail) throw new Error('boom \\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil'); return 1 },",
    '  reduce (results) { return results[0] },',
    '}',
  ].join('\n'))
  validJob = await buildSubmitRequest(moduleFile, { json: { fail: false } })
  // Debug level: the node logs each refused request, which the malformed-path test waits for.
  mesh = new LocalMesh({ nodes: 1, baseDir: join(base, 'mesh'), logLevel: 'debug', policy: 'dedicated', args: ['--slots', '2'] }) // LocalMesh passes --policy dedicated
  try {
    await mesh.startNode(0)
  } catch (err) {
    await mesh.stop()
    throw err
  }
})

afterAll(async () => {
  await outsider?.stop()
  await mesh?.stop()
  if (base !== undefined) rmSync(base, { recursive: true, force: true })
})

interface Answer { status: number, body: string, headers: Record<string, string | string[] | undefined> }

/** One HTTP/1.1 request with exactly these headers (fetch cannot set Host). */
async function http (opts: { method?: string, path: string, headers?: Record<string, string>, body?: string }): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: port(), method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {}, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const errorOf = (a: Answer): string => (JSON.parse(a.body) as { error: string }).error

describe('requests a web page can forge are refused', () => {
  it('a text/plain POST (a no-cors fetch from a page on another port) is refused, with or without a cookie', async () => {
    const before = (await jobsKnown()).length
    // What Chromium sends for fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body }) from http://127.0.0.1:8000.
    const forged = await http({
      method: 'POST', path: '/jobs', body: JSON.stringify(validJob),
      headers: { host: `127.0.0.1:${port()}`, 'content-type': 'text/plain;charset=UTF-8', cookie: `meshwork_token=${mesh.token}`, origin: 'http://127.0.0.1:8000', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' },
    })
    expect(forged.status).toBe(403)
    expect(forged.headers['content-type']).toBe('application/json')
    // Even from a page that sends no Origin: the content type alone refuses it.
    const plain = await http({ method: 'POST', path: '/jobs', body: JSON.stringify(validJob), headers: { host: `127.0.0.1:${port()}`, 'content-type': 'text/plain', cookie: `meshwork_token=${mesh.token}`, authorization: `Bearer ${mesh.token}` } })
    expect(plain.status).toBe(415)
    expect(errorOf(plain)).toMatch(/POST needs "Content-Type: application\/json" \(got "text\/plain"\)/)
    expect((await jobsKnown()).length).toBe(before)
  })

  it('a JSON POST without the Authorization header is refused even with a valid cookie or ?token=', async () => {
    const before = (await jobsKnown()).length
    const withCookie = await http({ method: 'POST', path: '/jobs', body: JSON.stringify(validJob), headers: { host: `127.0.0.1:${port()}`, 'content-type': 'application/json', cookie: `meshwork_token=${mesh.token}` } })
    expect(withCookie.status).toBe(401)
    expect(errorOf(withCookie)).toMatch(/Authorization: Bearer/)
    const withQuery = await http({ method: 'POST', path: `/jobs?token=${mesh.token}`, body: JSON.stringify(validJob), headers: { host: `127.0.0.1:${port()}`, 'content-type': 'application/json' } })
    expect(withQuery.status).toBe(401)
    expect((await http({ path: '/status', headers: { host: `127.0.0.1:${port()}`, cookie: `meshwork_token=${mesh.token}` } })).status).toBe(401)
    expect((await http({ path: `/status?token=${mesh.token}`, headers: { host: `127.0.0.1:${port()}` } })).status).toBe(401)
    // The dashboard link of old no longer hands out a cookie; nothing does.
    const page = await http({ path: `/?token=${mesh.token}`, headers: { host: `127.0.0.1:${port()}` } })
    expect(page.status).toBe(200)
    expect(page.headers['set-cookie']).toBeUndefined()
    expect((await jobsKnown()).length).toBe(before)
    // The CLI (JSON, header) still submits.
    const ok = await runCli(['submit', moduleFile, '--input-json', '{"fail":false}', '--api', api(), '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout).result).toBe(1)
  })

  it('a Host that is not the bound address is refused (DNS rebinding)', async () => {
    const auth = { authorization: `Bearer ${mesh.token}` }
    for (const host of ['evil.example', `evil.example:${port()}`, `127.0.0.1:${port() + 1}`, `192.168.1.10:${port()}`]) {
      const a = await http({ path: '/status', headers: { ...auth, host } })
      expect(a.status, host).toBe(421)
      expect(errorOf(a)).toMatch(new RegExp(`answers only to 127\\.0\\.0\\.1:${port()}, localhost:${port()}, \\[::1\\]:${port()}`))
    }
    const rebound = await http({ method: 'POST', path: '/jobs', body: JSON.stringify(validJob), headers: { ...auth, host: `evil.example:${port()}`, 'content-type': 'application/json' } })
    expect(rebound.status).toBe(421)
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, `[::1]:${port()}`]) {
      expect((await http({ path: '/status', headers: { ...auth, host } })).status, host).toBe(200)
    }
  })

  it('a cross-site Origin or Sec-Fetch-Site is refused; the dashboard\'s own are accepted', async () => {
    const before = (await jobsKnown()).length
    const h = { host: `127.0.0.1:${port()}`, authorization: `Bearer ${mesh.token}` }
    for (const origin of ['http://127.0.0.1:8000', 'https://evil.example', 'null', `http://evil.example:${port()}`]) {
      const a = await http({ path: '/status', headers: { ...h, origin } })
      expect(a.status, origin).toBe(403)
      expect(errorOf(a)).toMatch(/refused a cross-origin request: Origin/)
    }
    for (const site of ['cross-site', 'same-site']) {
      const a = await http({ path: '/status', headers: { ...h, 'sec-fetch-site': site } })
      expect(a.status, site).toBe(403)
      expect(errorOf(a)).toContain(`Sec-Fetch-Site: ${site}`)
    }
    const post = await http({ method: 'POST', path: '/jobs', body: JSON.stringify(validJob), headers: { ...h, 'content-type': 'application/json', origin: 'http://127.0.0.1:8000' } })
    expect(post.status).toBe(403)
    expect((await jobsKnown()).length).toBe(before)
    expect((await http({ path: '/status', headers: { ...h, origin: `http://127.0.0.1:${port()}`, 'sec-fetch-site': 'same-origin' } })).status).toBe(200)
    expect((await http({ path: '/', headers: { host: h.host, 'sec-fetch-site': 'none' } })).status).toBe(200)
  })
})

describe('client errors are answered, not crashed on', () => {
  it('GET /jobs/%E0%A4%A is a 400 naming the path, and the node logs no stack', async () => {
    const res = await mesh.fetch(0, '/jobs/%E0%A4%A')
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'malformed percent-encoding in the path "/jobs/%E0%A4%A"' })
    expect((await mesh.fetch(0, '/timeline/%E0%A4%A')).status).toBe(400)
    expect((await mesh.fetch(0, '/jobs/%E0%A4%A/cancel', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(400)
    // Each refusal is logged at debug level where a failure would have been logged with its stack.
    await waitFor('the node to log the refused request', () => nodeLog().includes('malformed percent-encoding in the path \\"/timeline/%E0%A4%A\\"'), DEADLINE_MS)
    const log = nodeLog()
    expect(log).not.toMatch(/URIError|control API handler failed|"stack"/)
    expect(mesh.nodes[0]!.proc?.exitCode).toBeNull()
  })
})

describe('control characters from the mesh never reach the terminal raw', () => {
  it('jobs and top escape a module name holding ESC sequences, BEL and a bidi override', async () => {
    const submitted = await runCli(['submit', moduleFile, '--input-json', '{"fail":false}', '--api', api()])
    expect(submitted.code, submitted.stderr).toBe(0)
    expect(submitted.stdout + submitted.stderr).not.toMatch(RAW_CONTROL)
    await waitFor('the job of the evil module to be done', async () => (await jobsKnown()).some(j => j.moduleName === `evil${EVIL}.mjs` && j.state === 'done'), DEADLINE_MS)
    const escaped = 'evil\\u001b[31m\\u001b]0;owned\\u0007\\u202e.mjs'
    const jobs = await runCli(['jobs', '--api', api()])
    expect(jobs.code, jobs.stderr).toBe(0)
    expect(jobs.stdout).toContain(escaped)
    expect(jobs.stdout).not.toMatch(RAW_CONTROL)
    const top = await runCli(['top', '--once', '--api', api()])
    expect(top.code, top.stderr).toBe(0)
    expect(top.stdout).toContain(escaped)
    expect(top.stdout).not.toMatch(RAW_CONTROL)
    const status = await runCli(['status', '--api', api()])
    expect(status.code).toBe(0)
    expect(status.stdout).not.toMatch(RAW_CONTROL)
    // --json stays the data itself (JSON escapes what it must).
    const json = await runCli(['jobs', '--api', api(), '--json'])
    expect((JSON.parse(json.stdout) as { jobs: JobRecord[] }).jobs.map(j => j.moduleName)).toContain(`evil${EVIL}.mjs`)
  })

  it('submit escapes a task error holding control characters, keeping its text', async () => {
    const r = await runCli(['submit', moduleFile, '--input-json', '{"fail":true}', '--api', api()])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('boom \\u001b[2J\\u001b]0;pwned\\u0007 \\u202eevil')
    expect(r.stderr).not.toMatch(RAW_CONTROL)
  })
})

describe('a peer with another mesh key', () => {
  it('is logged at info level, once for its address however often it dials', async () => {
    const line = /refused a connection from 127\.0\.0\.1: it does not hold this mesh's key/
    expect(nodeLog()).not.toMatch(line)
    // Its own key (LocalMesh makes one per mesh), bootstrapping from our node: it re-dials every few seconds.
    outsider = await LocalMesh.start({ nodes: 1, baseDir: join(base, 'outsider'), logLevel: 'debug', policy: 'dedicated', args: ['--bootstrap', mesh.bootstrapAddr()] })
    const outsiderLog = join(outsider.nodes[0]!.dataDir, 'node.log')
    const found = await waitFor('the node to log the refused connection', () => nodeLog().split('\n').find(l => line.test(l)), DEADLINE_MS)
    expect(JSON.parse(found)).toMatchObject({ level: 30, direction: 'inbound' })
    await waitFor('the outsider to dial three times', () => (readFileSync(outsiderLog, 'utf8').match(/dial failed/g) ?? []).length >= 3, DEADLINE_MS)
    expect(nodeLog().split('\n').filter(l => line.test(l))).toHaveLength(1)
    expect((await mesh.status(0)).peers.map(p => p.peerId)).toEqual([mesh.nodes[0]!.peerId])
  })
})

describe('connections without the token', () => {
  it('are capped while a client with the token still gets through, and idle ones time out', async () => {
    const sockets: Socket[] = []
    const closed = new Set<Socket>()
    try {
      for (let i = 0; i < 100; i++) {
        const socket = connect(port(), '127.0.0.1')
        sockets.push(socket)
        socket.on('error', () => {})
        socket.on('close', () => closed.add(socket))
        socket.resume() // read what the node answers (a 408), so its close is seen
        await new Promise<void>(resolve => { socket.once('connect', () => resolve()); socket.once('close', () => resolve()) })
        // Half say nothing, half send headers a little at a time (slowloris).
        if (i % 2 === 1) socket.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\n`)
      }
      // At most 32 are kept: the oldest are closed as new ones come (long before any timeout).
      await waitFor('all but 32 idle connections to be closed', () => closed.size >= 68, 25_000)
      expect(sockets.length - closed.size).toBeLessThanOrEqual(32)
      // The owner's CLI and a request with the token still get through.
      const res = await mesh.fetch(0, '/status')
      expect(res.status).toBe(200)
      const cli = await runCli(['status', '--api', api(), '--json'])
      expect(cli.code, cli.stderr).toBe(0)
      // The rest time out: headers must come within 10 s.
      await waitFor('every idle connection to time out', () => closed.size === sockets.length, 45_000)
    } finally {
      for (const s of sockets) s.destroy()
    }
    expect((await mesh.fetch(0, '/status')).status).toBe(200)
  })
})
