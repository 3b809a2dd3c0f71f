import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MeshClient } from '../../src/node/cli/client.js'
import { followJob, prepareJob, sendJob } from '../../src/node/cli/submit.js'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { startPostgres, type RunningPostgres } from '../../examples/crawler/postgres.mjs'
import { serveSite, type ServedSite } from '../../examples/crawler/site.mjs'
import { waitFor } from '../helpers/wait.js'

// The crawler example (examples/crawler/) for real: a PostgreSQL server on a free port, the
// generated site on 127.0.0.1, and 3 node processes (--policy dedicated --allow-network) whose
// sandboxed tasks fetch the pages and store them straight into the database.

const crawlModule = join(import.meta.dirname, '..', '..', 'examples', 'crawler', 'crawl.mjs')
const SLOTS = 2
const STORED_BEFORE_KILL = 10
let db: RunningPostgres | undefined
let mesh: LocalMesh | undefined
const sites: ServedSite[] = []

beforeAll(async () => {
  db = await startPostgres()
  mesh = await LocalMesh.start({ nodes: 3, policy: 'dedicated', args: ['--allow-network', '--slots', String(SLOTS), '--task-timeout-ms', '300000'] })
  await waitForFullMesh(mesh, 3, 60_000)
})
afterAll(async () => {
  // Each step even if another failed: nodes, sites, then the database and its temp dir.
  await mesh?.stop().catch(() => {})
  for (const s of sites) await s.close().catch(() => {})
  await db?.stop()
})

interface PageRow { url: string, sha256: string, fetched_by: string, status: number }

async function submitCrawl (site: ServedSite, schema: string, via: number): Promise<{ jobId: string, coordinator: string, client: MeshClient }> {
  const client = new MeshClient(mesh!.nodes[via]!.apiUrl, mesh!.token)
  const job = await prepareJob(crawlModule, { json: { start: `${site.origin}/`, db: db!.config, schema } }, { parts: 3 * SLOTS })
  return { ...await sendJob(client, job), client }
}

async function finished (client: MeshClient, jobId: string): Promise<JobRecord> {
  const record = await followJob(client, jobId, undefined, 100, { retries: 20 })
  expect(record.state, record.error).toBe('done')
  return record
}

/** Every page of the site stored exactly once, with its exact bytes, and nothing else stored. */
async function expectEveryPageOnce (site: ServedSite, schema: string): Promise<PageRow[]> {
  const rows = await db!.query<PageRow>(`SELECT url, sha256, fetched_by, status FROM ${schema}.pages ORDER BY url`)
  const expected = site.site.paths.map(p => `${site.origin}${p}`).sort()
  expect(rows.length).toBe(site.site.pages)
  expect(rows.map(r => r.url)).toEqual(expected)
  const [{ n: storedRows }] = await db!.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.pages`) as [{ n: number }]
  expect(storedRows).toBe(site.site.pages)
  for (const r of rows) {
    const path = new URL(r.url).pathname
    expect(r.status).toBe(200)
    expect(r.sha256, r.url).toBe(createHash('sha256').update(site.site.render(path, site.origin)!).digest('hex'))
  }
  const states = await db!.query<{ state: string, n: number }>(`SELECT state, count(*)::int AS n FROM ${schema}.frontier GROUP BY state`)
  expect(states).toEqual([{ state: 'done', n: site.site.pages }])
  const peers = new Set(mesh!.nodes.map(n => n.peerId))
  for (const r of rows) expect(peers.has(r.fetched_by), r.fetched_by).toBe(true)
  return rows
}

function perNode (rows: PageRow[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of rows) out[r.fetched_by] = (out[r.fetched_by] ?? 0) + 1
  return out
}

describe('the crawler example on a real mesh and a real PostgreSQL', () => {
  it('crawls the generated site: every page stored exactly once, by the nodes that fetched them', async () => {
    const site = await serveSite({ pages: 2000, seed: 7 })
    sites.push(site)
    const { jobId, client } = await submitCrawl(site, 'crawl_all', 1)
    const record = await finished(client, jobId)
    expect(record.result).toMatchObject({ kind: 'action', tasks: 3 * SLOTS, succeeded: 3 * SLOTS })
    const rows = await expectEveryPageOnce(site, 'crawl_all')
    // Nothing failed, so nothing was fetched twice either.
    expect([...site.fetches.values()].every(n => n === 1)).toBe(true)
    expect(site.fetches.size).toBe(site.site.pages)
    // The work spread: more than one node fetched and stored pages.
    expect(Object.keys(perNode(rows)).length).toBeGreaterThan(1)
  })

  it('a worker node killed mid-crawl (SIGKILL): no page lost, none stored twice', async () => {
    const site = await serveSite({ pages: 3000, seed: 11 })
    sites.push(site)
    const { jobId, coordinator, client } = await submitCrawl(site, 'killed', 0)
    // The victim: a node that neither coordinates the job nor answers our API calls.
    const victim = mesh!.nodes.find((n, i) => i !== 0 && n.peerId !== coordinator)!
    const victimAgent = `peer ${victim.peerId};`
    // Wait until the victim has stored pages with the crawl still going (the schema appears with the first task).
    for (const deadline = Date.now() + 120_000; ;) {
      const [tables] = await db!.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'killed' AND tablename = 'pages'")
      if (tables!.n === 1) {
        const [stored] = await db!.query<{ n: number }>('SELECT count(*)::int AS n FROM killed.pages WHERE fetched_by = $1', [victim.peerId])
        const [pending] = await db!.query<{ n: number }>("SELECT count(*)::int AS n FROM killed.frontier WHERE state = 'pending'")
        if (pending!.n === 0) throw new Error(`the crawl ended before the victim stored ${STORED_BEFORE_KILL} pages (it stored ${stored!.n})`)
        if (stored!.n >= STORED_BEFORE_KILL) break
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the victim to store pages')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    // Hold the site's answers until the victim waits on one: it dies with a batch claimed.
    site.hold()
    let inFlight: string[] = []
    try {
      inFlight = await waitFor('a request of the victim held by the site', () => {
        const mine = site.held.filter(h => h.agent.includes(victimAgent)).map(h => h.path)
        return mine.length > 0 ? mine : undefined
      }, 120_000)
      await mesh!.kill(victim.index, 'SIGKILL')
    } finally {
      site.release()
    }
    const record = await finished(client, jobId)
    expect(record.result).toMatchObject({ kind: 'action', tasks: 3 * SLOTS })
    const rows = await expectEveryPageOnce(site, 'killed')
    // What the victim was fetching when it died was stored, once, by a node still alive.
    const byUrl = new Map(rows.map(r => [new URL(r.url).pathname, r]))
    for (const path of inFlight) expect(byUrl.get(path)!.fetched_by).not.toBe(victim.peerId)
    // A page fetched twice is one whose first fetch was the victim's, never committed.
    for (const [path, agents] of site.byAgent) {
      if (agents.length > 1) expect(agents[0], path).toContain(victimAgent)
    }
    expect(perNode(rows)[victim.peerId] ?? 0).toBeGreaterThanOrEqual(STORED_BEFORE_KILL)
  })
})
