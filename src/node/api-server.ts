import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from './logger.js'
import { presentedToken, TOKEN_COOKIE, tokenMatches } from '../security/api-token.js'

// The control API: HTTP on 127.0.0.1 only. Routes get a parsed request and return a
// value (sent as JSON) or throw an ApiError; nothing a client sends can crash the node.

export class ApiError extends Error {
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
  /** When set, every request must carry it (`Authorization: Bearer …`, `?token=` or the `meshwork_token` cookie), else 401. */
  token?: string
}

export class ApiServer {
  private readonly routes = new Map<string, { handler: Handler, bodyBytesMax: number }>()
  private server: Server | undefined

  constructor (private readonly opts: ApiServerOptions) {}

  /** `bodyBytesMax` overrides the server's default for this route (job submissions carry input). */
  route (method: string, path: string, handler: Handler, opts: { bodyBytesMax?: number } = {}): void {
    this.routes.set(`${method} ${path}`, { handler, bodyBytesMax: opts.bodyBytesMax ?? this.opts.bodyBytesMax })
  }

  async listen (): Promise<string> {
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.on('clientError', (_err, socket) => socket.destroy())
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.port, '127.0.0.1', () => resolve())
    })
    const { port } = server.address() as AddressInfo
    return `http://127.0.0.1:${port}`
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const method = req.method ?? 'GET'
      const token = this.opts.token
      if (token !== undefined && !tokenMatches(presentedToken(req.headers, url.searchParams), token)) {
        throw new ApiError(401, 'missing or wrong API token: send "Authorization: Bearer <token>"; the node keeps it in DATA_DIR/api.token, which the CLI reads (--data-dir) or takes from $MESHWORK_TOKEN')
      }
      // A browser opening the dashboard link (`/?token=…`) then loads the page's scripts and
      // styles without it: hand it the token as a cookie, kept from scripts and other sites.
      if (token !== undefined && url.searchParams.has('token')) res.setHeader('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`)
      const route = this.match(method, url.pathname)
      if (route === undefined) throw new ApiError(404, `No route ${method} ${url.pathname}`)
      const body = method === 'GET' || method === 'HEAD' ? undefined : await readJsonBody(req, route.bodyBytesMax)
      const value = await route.handler({ method, path: url.pathname, query: url.searchParams, body, raw: req, res })
      if (value !== undefined) sendJson(res, 200, value)
    } catch (err) {
      const status = err instanceof ApiError ? err.statusCode : 500
      if (status === 500) this.opts.log.error({ err }, 'control API handler failed')
      if (!res.headersSent) sendJson(res, status, { error: (err as Error).message })
      else res.end()
    }
  }

  /** Exact routes, else the longest prefix route registered as `/path/*`. */
  private match (method: string, path: string): { handler: Handler, bodyBytesMax: number } | undefined {
    const exact = this.routes.get(`${method} ${path}`)
    if (exact !== undefined) return exact
    for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
      const route = this.routes.get(`${method} ${path.slice(0, slash)}/*`)
      if (route !== undefined) return route
    }
    return undefined
  }
}

export function sendJson (res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
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
