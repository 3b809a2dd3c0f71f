import { describe, expect, it } from 'vitest'
import { checkRequest, loopbackHosts, type RequestFacts } from '../../src/node/api/api-request-checks.js'

// What the control API accepts before the token and the route: method, target and headers in,
// verdict out. The API is bound to port 7070 here.

const bound = { port: 7070, tokenRequired: true }
const json = { 'content-type': 'application/json', authorization: 'Bearer t0k3n' }
const req = (method: string, url: string, headers: Record<string, string | undefined>): RequestFacts => ({ method, url, headers: { host: '127.0.0.1:7070', ...headers } })

type Row = [string, RequestFacts, number | 'ok', RegExp?]
const table: Row[] = [
  // What the CLI (undici fetch) and the dashboard send.
  ['CLI GET', req('GET', '/status', { authorization: 'Bearer x', 'sec-fetch-mode': 'cors' }), 'ok'],
  ['CLI POST with JSON', req('POST', '/jobs', json), 'ok'],
  ['CLI POST, charset parameter', req('POST', '/jobs', { ...json, 'content-type': 'Application/JSON; charset=utf-8' }), 'ok'],
  ['dashboard page load typed in the address bar', req('GET', '/', { 'sec-fetch-site': 'none' }), 'ok'],
  ['dashboard fetch from its own page', req('GET', '/events', { 'sec-fetch-site': 'same-origin', authorization: 'Bearer x' }), 'ok'],
  ['same-origin POST with Origin', req('POST', '/jobs/j1/cancel', { ...json, origin: 'http://127.0.0.1:7070', 'sec-fetch-site': 'same-origin' }), 'ok'],
  ['Host localhost', req('GET', '/status', { host: 'localhost:7070' }), 'ok'],
  ['Host LOCALHOST (case)', req('GET', '/status', { host: 'LocalHost:7070' }), 'ok'],
  ['Host [::1]', req('GET', '/status', { host: '[::1]:7070', origin: 'http://[::1]:7070' }), 'ok'],
  ['a query string', req('GET', '/jobs/j1?wait=100', {}), 'ok'],

  // DNS rebinding and misdirected requests.
  ['Host of a rebinding site', req('GET', '/status', { host: 'evil.example:7070' }), 421, /Host "evil\.example:7070" is not this node's control API; it answers only to 127\.0\.0\.1:7070, localhost:7070, \[::1\]:7070/],
  ['Host on another port', req('GET', '/status', { host: '127.0.0.1:8080' }), 421],
  ['Host without a port', req('GET', '/status', { host: '127.0.0.1' }), 421],
  ['no Host (HTTP/1.0)', { method: 'GET', url: '/status', headers: {} }, 421],
  ['Host of another loopback address', req('GET', '/status', { host: '127.0.0.2:7070' }), 421],
  ['Host with a trailing dot', req('GET', '/status', { host: 'localhost.:7070' }), 421],

  // Cross-site and cross-origin.
  ['Origin of a page on another local port', req('POST', '/jobs', { ...json, origin: 'http://127.0.0.1:8000' }), 403, /refused a cross-origin request: Origin "http:\/\/127\.0\.0\.1:8000" is not this node.s dashboard/],
  ['Origin of another site', req('GET', '/status', { origin: 'https://evil.example' }), 403],
  ['Origin null (sandboxed frame, file:)', req('POST', '/jobs', { ...json, origin: 'null' }), 403],
  ['Origin https on our port', req('GET', '/status', { origin: 'https://127.0.0.1:7070' }), 403],
  ['Origin with a path', req('GET', '/status', { origin: 'http://127.0.0.1:7070/x' }), 403],
  ['two Origins joined', req('GET', '/status', { origin: 'http://127.0.0.1:7070, http://evil.example' }), 403],
  ['Sec-Fetch-Site cross-site', req('GET', '/status', { 'sec-fetch-site': 'cross-site' }), 403, /Sec-Fetch-Site: cross-site/],
  ['Sec-Fetch-Site same-site (another port)', req('GET', '/', { 'sec-fetch-site': 'same-site' }), 403],
  ['Sec-Fetch-Site unknown', req('GET', '/', { 'sec-fetch-site': 'whatever' }), 403],

  // Writes a web page could make without a preflight.
  ['text/plain POST (no-cors fetch, a form)', req('POST', '/jobs', { ...json, 'content-type': 'text/plain;charset=UTF-8' }), 415, /POST needs "Content-Type: application\/json" \(got "text\/plain;charset=UTF-8"\)/],
  ['form-encoded POST', req('POST', '/jobs', { ...json, 'content-type': 'application/x-www-form-urlencoded' }), 415],
  ['multipart POST', req('POST', '/drain', { ...json, 'content-type': 'multipart/form-data; boundary=x' }), 415],
  ['POST with no content type', req('POST', '/drain', { authorization: 'Bearer x' }), 415],
  ['JSON-ish type', req('POST', '/jobs', { ...json, 'content-type': 'application/json-patch+json' }), 415],
  ['DELETE as text', req('DELETE', '/jobs/j1', { authorization: 'Bearer x', 'content-type': 'text/plain' }), 415, /DELETE needs/],
  ['POST as JSON but without the Authorization header', req('POST', '/jobs', { 'content-type': 'application/json', cookie: 'meshwork_token=t0k3n' }), 401, /Authorization: Bearer/],

  // Malformed targets.
  ['malformed percent-encoding', req('GET', '/jobs/%E0%A4%A', {}), 400, /malformed percent-encoding in the path "\/jobs\/%E0%A4%A"/],
  ['a lone %', req('GET', '/timeline/%', {}), 400],
  ['absolute-form target', req('GET', 'http://evil.example/status', {}), 400, /bad request target/],
  ['asterisk target', req('OPTIONS', '*', {}), 400],
]

describe('checkRequest', () => {
  for (const [what, facts, expected, message] of table) {
    it(`${what}: ${expected === 'ok' ? 'accepted' : expected}`, () => {
      const verdict = checkRequest(facts, bound)
      if (expected === 'ok') {
        expect(verdict).toEqual({ ok: true })
        return
      }
      expect(verdict.ok).toBe(false)
      if (verdict.ok) return
      expect(verdict.status).toBe(expected)
      expect(verdict.error.length).toBeGreaterThan(10)
      if (message !== undefined) expect(verdict.error).toMatch(message)
    })
  }

  it('a node without a token (embedded in tests) still wants JSON, but no header', () => {
    const open = { port: 7070, tokenRequired: false }
    expect(checkRequest(req('POST', '/jobs', { 'content-type': 'application/json' }), open)).toEqual({ ok: true })
    expect(checkRequest(req('POST', '/jobs', { 'content-type': 'text/plain' }), open)).toMatchObject({ ok: false, status: 415 })
  })

  it('a header sent as a list or far too long is refused, not thrown on', () => {
    expect(checkRequest({ method: 'GET', url: '/', headers: { host: ['127.0.0.1:7070', 'x'] } }, bound)).toMatchObject({ ok: false, status: 400 })
    expect(checkRequest(req('GET', '/', { origin: 'x'.repeat(5000) }), bound)).toMatchObject({ ok: false, status: 400 })
  })

  it('checks Host before anything else: a rebinding page learns nothing more', () => {
    expect(checkRequest(req('POST', '/jobs/%E0', { host: 'evil.example:7070', 'content-type': 'text/plain', origin: 'http://evil.example:7070' }), bound)).toMatchObject({ status: 421 })
  })

  it('names the loopback hosts for the bound port (and bare names on port 80)', () => {
    expect(loopbackHosts(7070)).toEqual(['127.0.0.1:7070', 'localhost:7070', '[::1]:7070'])
    expect(loopbackHosts(80)).toContain('localhost')
    expect(checkRequest({ method: 'GET', url: '/', headers: { host: '127.0.0.1' } }, { port: 80, tokenRequired: true })).toEqual({ ok: true })
  })
})
