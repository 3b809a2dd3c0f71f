// A generated web site to crawl, served on 127.0.0.1 with node:http: `pages` HTML pages, the same
// for the same `seed`. Every page is reachable from `/` (page i links to pages 3i+1 … 3i+3), and
// links to a few more at random — absolute, root-relative and relative, some with a #fragment —
// plus links the crawler must not follow (another host, mailto:). Nothing else is served (404).
//   node examples/crawler/site.mjs [--pages 3000] [--seed 1] [--port 0]   (Ctrl-C stops it)
import { createServer } from 'node:http'
import { pathToFileURL } from 'node:url'

const WORDS = 'mesh node peer task job shard gossip vector frontier page link crawl store worker slot seed graph edge queue lease commit'.split(' ')

/** mulberry32: a small deterministic PRNG. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The path of page i: `/` for 0, else `/s<section>/p<i>.html`. */
export function pagePath (i) {
  return i === 0 ? '/' : `/s${i % 10}/p${i}.html`
}

/** The site: its page paths in order, and the HTML of a path (undefined: not a page). */
export function generateSite ({ pages = 3000, seed = 1 } = {}) {
  if (!Number.isInteger(pages) || pages < 1) throw new Error(`pages must be a positive integer, got ${pages}`)
  const paths = Array.from({ length: pages }, (_, i) => pagePath(i))
  const index = new Map(paths.map((p, i) => [p, i]))
  const html = (i) => {
    const rnd = prng((seed * 2654435761) ^ (i * 40503) ^ 0x9E3779B9)
    const word = () => WORDS[Math.floor(rnd() * WORDS.length)]
    const links = []
    for (let c = 3 * i + 1; c <= 3 * i + 3 && c < pages; c++) links.push([pagePath(c), `child ${c}`])
    for (let k = 0; k < 4; k++) {
      const j = Math.floor(rnd() * pages)
      const target = pagePath(j)
      const style = Math.floor(rnd() * 4)
      // The same page written four ways; the crawler must resolve them all to one URL.
      const href = style === 0 ? target : style === 1 ? `${target}#part${k}` : style === 2 ? relative(pagePath(i), target) : `HOST${target}`
      links.push([href, `see ${j}`])
    }
    if (rnd() < 0.2) links.push(['https://example.invalid/elsewhere', 'another site'])
    if (rnd() < 0.1) links.push(['mailto:owner@example.invalid', 'mail'])
    const text = Array.from({ length: 30 + Math.floor(rnd() * 60) }, word).join(' ')
    return `<!doctype html>\n<html><head><meta charset="utf-8"><title>Page ${i} · ${word()} ${word()}</title></head>\n` +
      `<body><h1>Page ${i}</h1>\n<p>${text}</p>\n<ul>\n${links.map(([h, t]) => `  <li><a href="${h}">${t}</a></li>`).join('\n')}\n</ul></body></html>\n`
  }
  return {
    pages,
    paths,
    /** The page's HTML with its absolute links pointing at `origin`, or undefined. */
    render (path, origin) {
      const i = index.get(path)
      return i === undefined ? undefined : html(i).replaceAll('HOST/', `${origin}/`)
    },
  }
}

/** `to` relative to the directory of `from` (both absolute paths). */
function relative (from, to) {
  const dir = from.split('/').slice(1, -1)
  const target = to.split('/').slice(1)
  let common = 0
  while (common < dir.length && common < target.length - 1 && dir[common] === target[common]) common++
  const rel = [...Array(dir.length - common).fill('..'), ...target.slice(common)].join('/')
  return rel === '' ? './' : rel
}

/**
 * Serves the site on 127.0.0.1 and resolves to `{ origin, site, fetches, close, hold, release }`.
 * `fetches` counts GETs per path, with the user agents that asked (`byAgent`).
 * `hold()` makes new requests wait (without an answer) until `release()`; `held` lists the user
 * agents of the requests waiting, so a test can stop the crawl mid-flight on a condition.
 */
export async function serveSite ({ pages = 3000, seed = 1, port = 0, delayMs = 0 } = {}) {
  const site = generateSite({ pages, seed })
  const fetches = new Map()
  const byAgent = new Map()
  let gate
  const held = []
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const agent = String(req.headers['user-agent'] ?? '')
    const answer = () => {
      const body = req.method === 'GET' || req.method === 'HEAD' ? site.render(path, origin) : undefined
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('not found\n')
        return
      }
      if (req.method === 'GET') {
        fetches.set(path, (fetches.get(path) ?? 0) + 1)
        const list = byAgent.get(path)
        if (list === undefined) byAgent.set(path, [agent])
        else list.push(agent)
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    const go = () => delayMs > 0 ? setTimeout(answer, delayMs) : answer()
    if (gate === undefined) { go(); return }
    const entry = { agent, path }
    held.push(entry)
    gate.then(() => { held.splice(held.indexOf(entry), 1); go() })
  })
  server.keepAliveTimeout = 5000
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const origin = `http://127.0.0.1:${server.address().port}`
  let open = undefined
  return {
    origin,
    site,
    fetches,
    byAgent,
    held,
    hold () { if (gate === undefined) gate = new Promise(resolve => { open = resolve }) },
    release () { if (gate !== undefined) { open(); gate = undefined } },
    async close () {
      if (gate !== undefined) { open(); gate = undefined }
      server.closeAllConnections()
      await new Promise(resolve => server.close(() => resolve()))
    },
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name)
    return i === -1 ? dflt : Number(process.argv[i + 1])
  }
  const served = await serveSite({ pages: arg('--pages', 3000), seed: arg('--seed', 1), port: arg('--port', 0) })
  process.stdout.write(`${served.site.pages} pages on ${served.origin}/ (Ctrl-C stops)\n`)
  process.once('SIGINT', () => { void served.close().then(() => process.exit(0)) })
}
