import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JobIdSchema } from '../../../jobs/job-spec.js'
import { packageRoot } from '../../../package-root.js'
import { ApiError, pathParam, type ApiServer } from '../api-server.js'
import type { EventsStream } from '../events-stream.js'
import { TimelineUnknownJobError, type TimelineService } from '../../daemon/timeline-service.js'

// The dashboard on the control port: static files shipped in the package (plain HTML, CSS
// and JS; no build step), the SSE stream and the task timelines. Same origin as the JSON API.
//   GET /                      the page (public)
//   GET /dashboard/<file>      its script, style sheet and icon (public; a fixed list: no paths from the URL)
//   GET /events                Server-Sent Events (see events-stream.ts; token needed)
//   GET /timeline/<jobId>      { available: true, timeline } | { available: false, coordinator, reason } (token needed)
// The files are public because a browser cannot send a token on a page load; they are the
// package's own files and hold no data. The page gets its token from the link `meshwork
// dashboard` prints (`/#token=…`: a fragment, never sent to any server), keeps it in
// sessionStorage only and sends it as an Authorization header on every fetch, the event stream
// included (read with fetch(), not EventSource, which cannot send headers). No cookie: a
// browser sends cookies along with requests other pages make.

export const DASHBOARD_DIR = join(packageRoot(), 'src', 'node', 'api', 'dashboard', 'public')

const FILES: Record<string, { file: string, type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // The page's address may hold #token= for an instant: never send it on to anyone.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

export interface DashboardDeps {
  events: EventsStream
  timelines: TimelineService
}

export function registerDashboardRoutes (api: ApiServer, deps: DashboardDeps): void {
  const serve = async (path: string, res: import('node:http').ServerResponse): Promise<undefined> => {
    const entry = FILES[path]
    if (entry === undefined) throw new ApiError(404, `No dashboard file ${path}`)
    const body = await readFile(join(DASHBOARD_DIR, entry.file))
    res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, ...SECURITY_HEADERS })
    res.end(body)
    return undefined
  }
  api.route('GET', '/', async req => await serve('/', req.res), { public: true })
  api.route('GET', '/dashboard/*', async req => await serve(req.path, req.res), { public: true })
  api.route('GET', '/events', deps.events.handle)
  api.route('GET', '/timeline/*', async req => {
    const jobId = pathParam(req.path, '/timeline/')
    if (!JobIdSchema.safeParse(jobId).success) throw new ApiError(400, `invalid job id ${JSON.stringify(jobId.slice(0, 80))}`)
    try {
      return await deps.timelines.get(jobId)
    } catch (err) {
      if (err instanceof TimelineUnknownJobError) throw new ApiError(404, err.message)
      throw err
    }
  })
}
