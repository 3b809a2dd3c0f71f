import { z } from 'zod'

// What the control API accepts before it looks at a token or a route: only requests a web page
// in the owner's browser cannot forge. A page elsewhere (another site, or another port of this
// machine) can still make the browser send simple requests here: a GET, or a POST with a
// `text/plain` body and the browser's cookies (`fetch(..., { mode: 'no-cors' })`). It cannot
// send a custom `Authorization` header or a JSON content type to another origin without a CORS
// preflight, which this API never grants; browsers mark such requests with `Origin` and
// `Sec-Fetch-Site`; and a DNS-rebinding page reaches 127.0.0.1 under its own name in `Host`.
// Pure: method, request target and headers in, a verdict out (api-server.ts applies it).

export type Verdict = { ok: true } | { ok: false, status: number, error: string }

export interface RequestFacts {
  method: string
  /** The request target as sent (`req.url`). */
  url: string
  headers: Record<string, string | string[] | undefined>
}

export interface BoundApi {
  /** The port the API listens on (the Host and Origin a request must name). */
  port: number
  /** Whether the node has a token: then a POST or DELETE must carry an Authorization header. */
  tokenRequired: boolean
}

// A header sent twice arrives as one string joined with ", " (or is dropped by Node, as for
// Host), so each is one string; an array or an oversized value is refused below.
const HeadersSchema = z.object({
  host: z.string().max(300).optional(),
  origin: z.string().max(300).optional(),
  'sec-fetch-site': z.string().max(64).optional(),
  'content-type': z.string().max(300).optional(),
  authorization: z.string().max(1024).optional(),
})

/** The names a browser or client on this machine reaches the API by (no port when it is 80). */
export function loopbackHosts (port: number): string[] {
  const names = ['127.0.0.1', 'localhost', '[::1]']
  return [...names.map(n => `${n}:${port}`), ...(port === 80 ? names : [])]
}

/** Methods that change something: JSON from a client that sets the Authorization header only. */
const READS = new Set(['GET', 'HEAD'])

export function checkRequest (req: RequestFacts, bound: BoundApi): Verdict {
  const parsed = HeadersSchema.safeParse(req.headers)
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? 'headers')
    return refuse(400, `malformed ${field} header: send it once, as text of a sensible length`)
  }
  const h = parsed.data
  const hosts = loopbackHosts(bound.port)
  const names = hosts.slice(0, 3).join(', ')

  // DNS rebinding: a page at http://evil.example:PORT whose name now resolves to 127.0.0.1.
  const host = (h.host ?? '').trim().toLowerCase()
  if (!hosts.includes(host)) {
    return refuse(421, `refused: Host ${JSON.stringify(h.host ?? '')} is not this node's control API; it answers only to ${names}`)
  }
  if (h.origin !== undefined && !hosts.some(name => h.origin?.toLowerCase() === `http://${name}`)) {
    return refuse(403, `refused a cross-origin request: Origin ${JSON.stringify(h.origin)} is not this node's dashboard (http://127.0.0.1:${bound.port})`)
  }
  const site = h['sec-fetch-site']?.trim().toLowerCase()
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return refuse(403, `refused a request from another site (Sec-Fetch-Site: ${h['sec-fetch-site'] ?? ''}): the control API serves its own dashboard and local clients only`)
  }

  if (!req.url.startsWith('/')) return refuse(400, `bad request target ${JSON.stringify(req.url.slice(0, 120))}: expected a path such as /status`)
  const path = req.url.split('?', 1)[0] ?? ''
  try {
    decodeURIComponent(path)
  } catch {
    return refuse(400, `malformed percent-encoding in the path ${JSON.stringify(path.slice(0, 120))}`)
  }

  const method = req.method.toUpperCase()
  if (!READS.has(method)) {
    const type = (h['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase()
    // Uploads (PUT) carry bytes; neither type is one a page may send cross-origin without asking.
    const expected = method === 'PUT' ? 'application/octet-stream' : 'application/json'
    if (type !== expected) {
      return refuse(415, `${method} needs "Content-Type: ${expected}"${h['content-type'] !== undefined ? ` (got ${JSON.stringify(h['content-type'])})` : ''}`)
    }
    if (bound.tokenRequired && h.authorization === undefined) {
      return refuse(401, `${method} needs the API token in an "Authorization: Bearer <token>" header; the node keeps it in DATA_DIR/api.token`)
    }
  }
  return { ok: true }
}

function refuse (status: number, error: string): Verdict {
  return { ok: false, status, error }
}
