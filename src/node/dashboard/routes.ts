import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JobIdSchema } from '../../jobs/job-spec.js'
import { packageRoot } from '../../package-root.js'
import { ApiError, type ApiServer } from '../api-server.js'
import type { EventsStream } from '../events-stream.js'
import { TimelineUnknownJobError, type TimelineService } from '../timeline-service.js'

// The dashboard on the control port: static files shipped in the package (plain HTML, CSS
// and JS; no build step), the SSE stream and the task timelines. Same origin as the JSON API.
//   GET /                      the page
//   GET /dashboard/<file>      its script, style sheet and icon (a fixed list: no paths from the URL)
//   GET /events                Server-Sent Events (see events-stream.ts)
//   GET /timeline/<jobId>      { available: true, timeline } | { available: false, coordinator, reason }

export const DASHBOARD_DIR = join(packageRoot(), 'src', 'node', 'dashboard', 'public')

const FILES: Record<string, { file: string, type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // The first page load may carry ?token=: never send it on to anyone.
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
  api.route('GET', '/', async req => await serve('/', req.res))
  api.route('GET', '/dashboard/*', async req => await serve(req.path, req.res))
  api.route('GET', '/events', deps.events.handle)
  api.route('GET', '/timeline/*', async req => {
    let jobId = ''
    try { jobId = decodeURIComponent(req.path.slice('/timeline/'.length)) } catch { /* invalid below */ }
    if (!JobIdSchema.safeParse(jobId).success) throw new ApiError(400, `invalid job id ${JSON.stringify(jobId.slice(0, 80))}`)
    try {
      return await deps.timelines.get(jobId)
    } catch (err) {
      if (err instanceof TimelineUnknownJobError) throw new ApiError(404, err.message)
      throw err
    }
  })
}
