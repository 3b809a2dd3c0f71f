import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Logger } from '../host/logger.js'
import { presentedToken, tokenMatches } from '../../security/api-token.js'
import { UnauthenticatedConnections } from './api-connections.js'
import { checkRequest } from './api-request-checks.js'
import { MeshworkError } from '../../util/errors.js'

// The control API: HTTP on 127.0.0.1 only. Routes get a parsed request and return a
// value (sent as JSON) or throw an ApiError; nothing a client sends can crash the node.
// Every request first passes checkRequest (api-request-checks.ts: Host, Origin,
// Sec-Fetch-Site, a JSON content type for writes), then the token check (the Authorization
// header only) unless its route is public (the dashboard's static files, which hold no data).

/**
 * Connections not yet authenticated, at most. The owner's CLI and dashboard need a handful;
 * 32 leaves room for a dashboard loading its files in parallel and a few CLI commands at once.
 */
export const UNAUTHENTICATED_CONNECTIONS_MAX = 32
/** Time to send a request's headers: a local client needs microseconds, a slowloris gets 10 s. */
export const HEADERS_TIMEOUT_MS = 10_000
/** Time to send a whole request: a 256 MiB submission crosses loopback in seconds, even on a busy machine. */
export const REQUEST_TIMEOUT_MS = 120_000
/** How often Node enforces the two timeouts above (its default, 30 s, would triple the first). */
const TIMEOUT_CHECK_MS = 1000

export class ApiError extends MeshworkError {
  readonly code = 'api'
  constructor (readonly statusCode: number, message: string) { super(message) }
}

export interface ApiRequest {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
  raw: IncomingMessage
  res: ServerResponse
}

/** A handler returns a JSON value, or `undefined` when it wrote the response itself (streams). */
export type Handler = (req: ApiRequest) => Promise<unknown> | unknown

export interface ApiServerOptions {
  port: number
  bodyBytesMax: number
  log: Logger
  /** When set, every request to a route that is not public must carry it (`Authorization: Bearer …`), else 401. */
  token?: string
  /** Default UNAUTHENTICATED_CONNECTIONS_MAX. */
  unauthenticatedConnectionsMax?: number
}

interface Route { handler: Handler, bodyBytesMax: number, public: boolean, rawBody: boolean }

export class ApiServer {
  private readonly routes = new Map<string, Route>()
  private server: Server | undefined
  private port = 0
  readonly unauthenticated: UnauthenticatedConnections<Socket>

  constructor (private readonly opts: ApiServerOptions) {
    this.unauthenticated = new UnauthenticatedConnections(opts.unauthenticatedConnectionsMax ?? UNAUTHENTICATED_CONNECTIONS_MAX)
  }

  /**
   * `bodyBytesMax` overrides the server's default for this route (job submissions carry input);
   * `public` routes answer without the token (only what holds no data: the dashboard's files).
   */
  route (method: string, path: string, handler: Handler, opts: { bodyBytesMax?: number, public?: boolean, rawBody?: boolean } = {}): void {
    this.routes.set(`${method} ${path}`, { handler, bodyBytesMax: opts.bodyBytesMax ?? this.opts.bodyBytesMax, public: opts.public === true, rawBody: opts.rawBody === true })
  }

  async listen (): Promise<string> {
    const server = createServer({
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    }, (req, res) => { void this.handle(req, res) })
    server.on('connection', (socket: Socket) => this.unauthenticated.add(socket))
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.port, '127.0.0.1', () => resolve())
    })
    this.port = (server.address() as AddressInfo).port
    return `http://127.0.0.1:${this.port}`
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const method = req.method ?? 'GET'
      const token = this.opts.token
      const verdict = checkRequest({ method, url: req.url ?? '', headers: req.headers }, { port: this.port, tokenRequired: token !== undefined })
      if (!verdict.ok) throw new ApiError(verdict.status, verdict.error)
      // checkRequest saw a path (origin form): parsed against a fixed base, never the Host.
      let url: URL
      try { url = new URL(`http://127.0.0.1${req.url ?? '/'}`) } catch { throw new ApiError(400, `bad request target ${JSON.stringify((req.url ?? '').slice(0, 120))}`) }
      const route = this.match(method, url.pathname)
      if (token !== undefined && route?.public !== true) {
        if (!tokenMatches(presentedToken(req.headers), token)) {
          throw new ApiError(401, 'missing or wrong API token: send "Authorization: Bearer <token>"; the node keeps it in DATA_DIR/api.token, which the CLI reads (--data-dir) or takes from $MESHWORK_TOKEN')
        }
        this.unauthenticated.authenticated(req.socket)
      }
      if (route === undefined) throw new ApiError(404, `No route ${method} ${url.pathname}`)
      // A `rawBody` route (an upload) reads the request stream itself.
      const body = method === 'GET' || method === 'HEAD' || route.rawBody ? undefined : await readJsonBody(req, route.bodyBytesMax)
      const value = await route.handler({ method, path: url.pathname, query: url.searchParams, body, raw: req, res })
      if (value !== undefined) sendJson(res, 200, value)
    } catch (err) {
      // A client's mistake is answered, not logged with a stack; only a handler's own failure is.
      const status = err instanceof ApiError ? err.statusCode : 500
      if (status === 500) this.opts.log.error({ err }, 'control API handler failed')
      else if (status !== 404) this.opts.log.debug({ status, method: req.method, error: (err as Error).message }, 'control API refused a request')
      if (!res.headersSent) sendJson(res, status, { error: (err as Error).message })
      else res.end()
    }
  }

  /** Exact routes, else the longest prefix route registered as `/path/*`. */
  private match (method: string, path: string): Route | undefined {
    const exact = this.routes.get(`${method} ${path}`)
    if (exact !== undefined) return exact
    for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
      const route = this.routes.get(`${method} ${path.slice(0, slash)}/*`)
      if (route !== undefined) return route
    }
    return undefined
  }
}

/** The decoded rest of `path` after `prefix`; a malformed percent-encoding is the client's 400. */
export function pathParam (path: string, prefix: string): string {
  try {
    return decodeURIComponent(path.slice(prefix.length))
  } catch {
    throw new ApiError(400, `malformed percent-encoding in the path ${JSON.stringify(path.slice(0, 120))}`)
  }
}

export function sendJson (res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' })
  res.end(body)
}

/** Not HTTP, headers too large or too slow: a short JSON answer when the socket still takes one. */
function answerClientError (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy()
    return
  }
  const [status, reason, error] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large', 'request headers too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request not received in time']
      : [400, 'Bad Request', 'malformed HTTP request']
  const body = JSON.stringify({ error: error })
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

async function readJsonBody (req: IncomingMessage, bytesMax: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > bytesMax) throw new ApiError(413, `Request body exceeds ${bytesMax} bytes`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ApiError(400, 'Request body is not valid JSON')
  }
}
