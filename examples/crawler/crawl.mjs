// A web crawler as an action job: every task is a crawl worker that claims URLs from a frontier
// table in PostgreSQL, fetches them, and stores each page — from the node that fetched it —
// straight into the database, with the links it found added to the frontier. The job returns
// only counts; the pages are in the database (`<schema>.pages`, one row per URL).
//   meshwork submit examples/crawler/crawl.mjs --parts 6 --input-json \
//     '{"start":"http://127.0.0.1:8080/","db":{"host":"127.0.0.1","port":5432,"user":"crawler","password":"…","database":"crawl"}}'
// Nodes must be started with --allow-network (the module declares network: true).
// Input: `start` (the first URL; only links to its origin are followed), `db` (what pg.Client
// takes), and optionally `schema` (default crawl), `batch` (URLs per claim, 8), `maxPages`
// (frontier size cap, 100000), `fetchTimeoutMs` (10000), `workers` (tasks; default --parts).
//
// Deduplication and failures, all in the database:
// - `frontier(url primary key, depth, state)` and `pages(url primary key, …)`; new links go in
//   with INSERT … ON CONFLICT DO NOTHING, so each URL is queued once and stored once.
// - A worker claims a batch with SELECT … FOR UPDATE SKIP LOCKED and holds that transaction while
//   it fetches; the pages, their links and the batch's `done` commit together. A worker that dies
//   (its node killed, its task timed out) holds no claim afterwards: PostgreSQL rolls back its
//   transaction when its connection drops, and the batch is pending again for the others.
// - The crawl is over when no frontier row is pending: a batch in flight is still pending until
//   its commit, which also adds its links. A task then returns; one that starts later (a retry)
//   finds nothing to do. Submitting the same job again resumes an interrupted crawl.
import { createHash } from 'node:crypto'
import pg from 'pg'
import { Parser } from 'htmlparser2'

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/
const MAX_BODY_BYTES = 2 * 1024 * 1024

function settings (input) {
  if (input === null || typeof input !== 'object') throw new Error('input must be { start, db: { host, port, user, password, database }, … }')
  const start = new URL(input.start)
  if (start.protocol !== 'http:' && start.protocol !== 'https:') throw new Error(`start must be an http(s) URL, got ${input.start}`)
  const schema = input.schema ?? 'crawl'
  if (!SCHEMA_RE.test(schema)) throw new Error(`schema must match ${SCHEMA_RE}, got ${JSON.stringify(schema)}`)
  return {
    start: normalize(start.href, start.href),
    origin: start.origin,
    db: input.db,
    schema,
    batch: input.batch ?? 8,
    maxPages: input.maxPages ?? 100_000,
    fetchTimeoutMs: input.fetchTimeoutMs ?? 10_000,
    idleMs: input.idleMs ?? 100,
  }
}

/** The URL `href` names on page `base`, without its #fragment; undefined when not http(s). */
export function normalize (href, base) {
  let url
  try { url = new URL(href, base) } catch { return undefined }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  url.hash = ''
  return url.href
}

/** The page's title and the same-origin URLs it links to (deduplicated, in order). */
export function extractLinks (html, pageUrl, origin) {
  const links = new Set()
  let title = ''
  let inTitle = false
  const parser = new Parser({
    onopentag (name, attrs) {
      if (name === 'title') inTitle = true
      if ((name === 'a' || name === 'area') && typeof attrs.href === 'string') {
        const url = normalize(attrs.href.trim(), pageUrl)
        if (url !== undefined && new URL(url).origin === origin) links.add(url)
      }
    },
    ontext (text) { if (inTitle) title += text },
    onclosetag (name) { if (name === 'title') inTitle = false },
  }, { decodeEntities: true })
  parser.write(html)
  parser.end()
  return { title: title.trim(), links: [...links] }
}

async function ensureSchema (client, s) {
  const q = pg.escapeIdentifier(s.schema)
  await client.query('BEGIN')
  try {
    // One task at a time creates the tables (concurrent CREATE … IF NOT EXISTS can still collide).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`meshwork-crawl:${s.schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.frontier (
      url text PRIMARY KEY,
      depth int NOT NULL,
      state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
      error text,
      added_at timestamptz NOT NULL DEFAULT now())`)
    await client.query(`CREATE INDEX IF NOT EXISTS frontier_pending ON ${q}.frontier (depth) WHERE state = 'pending'`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.pages (
      url text PRIMARY KEY,
      status int NOT NULL,
      content_type text,
      title text,
      body text,
      bytes int NOT NULL,
      links int NOT NULL,
      sha256 text,
      fetched_by text NOT NULL,
      task int,
      fetched_at timestamptz NOT NULL DEFAULT now())`)
    await client.query(`INSERT INTO ${q}.frontier (url, depth) VALUES ($1, 0) ON CONFLICT DO NOTHING`, [s.start])
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}

async function fetchPage (url, s, agent) {
  try {
    const res = await fetch(url, { redirect: 'manual', headers: { 'user-agent': agent }, signal: AbortSignal.timeout(s.fetchTimeoutMs) })
    const type = res.headers.get('content-type') ?? ''
    const location = res.headers.get('location')
    const buf = Buffer.from(await res.arrayBuffer())
    const html = /^text\/html\b/i.test(type) && buf.length <= MAX_BODY_BYTES ? buf.toString('utf8') : undefined
    const parsed = html !== undefined ? extractLinks(html, url, s.origin) : { title: '', links: [] }
    const redirect = location !== null && res.status >= 300 && res.status < 400 ? normalize(location, url) : undefined
    if (redirect !== undefined && new URL(redirect).origin === s.origin) parsed.links.push(redirect)
    return { ok: true, status: res.status, type, title: parsed.title, body: html ?? null, bytes: buf.length, links: parsed.links, sha256: createHash('sha256').update(buf).digest('hex') }
  } catch (err) {
    return { ok: false, error: String(err?.cause?.message ?? err?.message ?? err).slice(0, 500) }
  }
}

/** One crawl worker: claims, fetches and stores until the frontier is drained. */
async function crawlWorker (s, ctx) {
  const peer = String(ctx.peerId ?? 'unknown')
  const agent = `meshwork-crawler (peer ${peer}; task ${ctx.taskIndex})`
  const q = pg.escapeIdentifier(s.schema)
  const client = new pg.Client({ ...s.db, application_name: `meshwork-crawl task ${ctx.taskIndex}`, connectionTimeoutMillis: 30_000, keepAlive: true })
  await client.connect()
  const stats = { stored: 0, failed: 0, batches: 0, retried: 0 }
  try {
    // A worker that hangs in a transaction without dying must not hold its batch for ever.
    await client.query(`SET idle_in_transaction_session_timeout = '${Math.max(30_000, 3 * s.fetchTimeoutMs)}ms'`)
    await ensureSchema(client, s)
    for (;;) {
      let batch
      try {
        batch = await crawlBatch(client, s, q, peer, agent, ctx)
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        // A deadlock or serialization failure aborts only this batch: it is pending again.
        if (err?.code === '40P01' || err?.code === '40001') { stats.retried++; continue }
        throw err
      }
      if (batch === 'drained') break
      if (batch === 'wait') { await new Promise(resolve => setTimeout(resolve, s.idleMs)); continue }
      stats.stored += batch.stored
      stats.failed += batch.failed
      stats.batches++
    }
  } finally {
    await client.end().catch(() => {})
  }
  return stats
}

/**
 * One batch in one transaction: claim up to `s.batch` pending URLs, fetch them, store the pages
 * and their links, mark the batch done. 'wait': others hold what is pending; 'drained': nothing is.
 */
async function crawlBatch (client, s, q, peer, agent, ctx) {
  await client.query('BEGIN')
  const { rows } = await client.query(`SELECT url, depth FROM ${q}.frontier WHERE state = 'pending' ORDER BY depth LIMIT $1 FOR UPDATE SKIP LOCKED`, [s.batch])
  if (rows.length === 0) {
    await client.query('ROLLBACK')
    const { rows: [left] } = await client.query(`SELECT count(*)::int AS n FROM ${q}.frontier WHERE state = 'pending'`)
    // Others hold what is left, and their commits may bring new links: wait, or end.
    return left.n === 0 ? 'drained' : 'wait'
  }
  const fetched = await Promise.all(rows.map(r => fetchPage(r.url, s, agent)))
  const done = []
  const failed = []
  const found = new Map()
  for (const [i, { url, depth }] of rows.entries()) {
    const page = fetched[i]
    if (!page.ok) { failed.push([url, page.error]); continue }
    await client.query(`INSERT INTO ${q}.pages (url, status, content_type, title, body, bytes, links, sha256, fetched_by, task)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (url) DO NOTHING`,
    [url, page.status, page.type, page.title, page.body, page.bytes, page.links.length, page.sha256, peer, ctx.taskIndex ?? null])
    done.push(url)
    for (const link of page.links) if (!found.has(link)) found.set(link, depth + 1)
  }
  if (found.size > 0) {
    const { rows: [size] } = await client.query(`SELECT count(*)::int AS n FROM ${q}.frontier`)
    const room = Math.max(0, s.maxPages - size.n)
    // Sorted: two batches inserting the same new URLs wait on each other in one order, never in a cycle.
    const links = [...found].slice(0, room).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    if (links.length > 0) {
      await client.query(`INSERT INTO ${q}.frontier (url, depth) SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT DO NOTHING`,
        [links.map(l => l[0]), links.map(l => l[1])])
    }
  }
  if (done.length > 0) await client.query(`UPDATE ${q}.frontier SET state = 'done' WHERE url = ANY($1::text[])`, [done])
  for (const [url, error] of failed) await client.query(`UPDATE ${q}.frontier SET state = 'failed', error = $2 WHERE url = $1`, [url, error])
  await client.query('COMMIT')
  return { stored: done.length, failed: failed.length }
}

export default {
  kind: 'action',
  network: true,
  split (input, ctx) {
    const s = settings(input)
    const parts = Math.max(1, input.workers ?? ctx.parts ?? 4)
    return Array.from({ length: parts }, (_, worker) => ({ ...input, start: s.start, worker }))
  },
  async map (chunk, ctx) {
    return await crawlWorker(settings(chunk), ctx)
  },
}
