import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'

// The dashboard end to end, in real headless Chromium (Debian's `chromium`, driven by
// playwright-core): a 3-node mesh, the page served by node 0, a job submitted with the CLI
// whose progress reaches 100% and whose tasks (with a retry and a backup copy) appear in the
// timeline, then a node killed with SIGKILL turning dead. Screenshots go to test-artifacts/.
// The token comes in the link's fragment and lives in sessionStorage only: no cookie is ever
// set, every data request carries it in the Authorization header, no URL carries it.

const root = join(import.meta.dirname, '..', '..')
const artifacts = join(root, 'test-artifacts')
const CHROMIUM = process.env.MESHWORK_CHROMIUM ?? '/usr/bin/chromium'
const DEADLINE_MS = 120_000

let mesh: LocalMesh
let browser: Browser | undefined
let page: Page
let work: string

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const peer = (i: number): string => mesh.nodes[i]!.peerId

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does) or set MESHWORK_CHROMIUM`)
  mkdirSync(artifacts, { recursive: true })
  work = mkdtempSync(join(tmpdir(), 'meshwork-dashboard-test-'))
  // The flaky task leaves a marker in the test's work dir: let tasks write there.
  mesh = await LocalMesh.start({ nodes: 3, args: ['--slots', '2', '--allow-fs-read', work, '--allow-fs-write', work] })
  await waitForFullMesh(mesh, 3, DEADLINE_MS)
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  page.setDefaultTimeout(DEADLINE_MS)
  page.on('pageerror', err => { pageErrors.push(err.message) })
  // Every response and request, headers included (allHeaders fails once the browser is closed: ignored).
  page.on('response', res => {
    res.allHeaders().then(h => { if (h['set-cookie'] !== undefined) cookiesSet.push(`${res.url()}: ${h['set-cookie']}`) }, () => {})
  })
  page.on('request', req => {
    req.allHeaders().then(h => { requests.push({ url: req.url(), authorization: h.authorization }) }, () => {})
  })
})

afterAll(async () => {
  await browser?.close().catch(() => {})
  await mesh?.stop()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

const pageErrors: string[] = []
const cookiesSet: string[] = []
const requests: Array<{ url: string, authorization: string | undefined }> = []

describe('the dashboard in a real browser', () => {
  it('shows the mesh, a job reaching 100% and its tasks in the timeline with a retry and a backup marked', async () => {
    // What `meshwork dashboard` prints: the token in the fragment.
    const link = await runCli(['dashboard', '--data-dir', mesh.nodes[0]!.dataDir])
    expect(link.stdout.trim()).toBe(`${api(0)}/#token=${mesh.token}`)
    await page.goto(link.stdout.trim())
    await page.locator('.node[data-status="alive"]').nth(2).waitFor()
    expect(await page.locator('.node').count()).toBe(3)
    await page.locator('#conn[data-state="live"]').waitFor()

    // 10 quick tasks, one that fails on its first attempt (retried elsewhere), and one
    // straggler that gets a backup copy (first result wins, the other copy is superseded).
    const chunks = [
      ...Array.from({ length: 10 }, (_, i) => ({ mode: 'slow', ms: 300, value: i })),
      { mode: 'flaky', marker: join(work, 'flaky-marker'), value: 100 },
      { mode: 'slow', ms: 12_000, value: 1000 },
    ]
    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'faulty.mjs'), '--input-json', JSON.stringify({ chunks }), '--api', api(0), '--detach'])
    expect(submitted.code, `${submitted.stderr}\n${nodeLogs()}`).toBe(0)
    const jobId = submitted.stdout.trim()
    const row = page.locator(`tr[data-job="${jobId}"]`)
    await row.waitFor()
    await row.click()
    await page.locator(`tr.selected[data-job="${jobId}"]`).waitFor()

    // Progress while it runs, then 100% once done.
    await page.locator(`tr[data-job="${jobId}"] .progress[data-state="done"][data-progress="100"]`).waitFor()
    await expect.poll(async () => await row.locator('.progress .label').textContent(), { timeout: DEADLINE_MS }).toContain('12/12')

    // Every task has a completed attempt in the timeline; the retry and the backup are marked.
    const bars = page.locator('#timeline rect.bar')
    await expect.poll(async () => await distinctTasksDone(page), { timeout: DEADLINE_MS, interval: 200 }).toBe(12)
    expect(await page.locator('#timeline rect.bar[data-outcome="failed"]').count()).toBeGreaterThanOrEqual(1)
    expect(await page.locator('#timeline rect.bar.retry').count()).toBeGreaterThanOrEqual(1)
    expect(await page.locator('#timeline rect.bar.backup').count()).toBeGreaterThanOrEqual(1)
    expect(await bars.count()).toBeGreaterThanOrEqual(14)
    // Rows by peer: only the mesh's peers ran tasks.
    const rowPeers = await page.locator('#timeline g.row').evaluateAll(gs => gs.map(g => (g as HTMLElement).dataset.peer))
    for (const p of rowPeers) expect(mesh.nodes.map(n => n.peerId)).toContain(p)
    expect(await page.locator('#timeline-title').textContent()).toContain(jobId)

    // The detail panel: the state, the tasks by node, the result (read with GET /jobs/:id), and logs or "no logs".
    const detail = page.locator(`#detail[data-job="${jobId}"][data-state="done"]`)
    await detail.waitFor()
    await expect.poll(async () => await detail.locator('[data-role="result"]').textContent(), { timeout: DEADLINE_MS }).toBe('2290') // 2 × (0+…+9) + 2 × 100 + 2 × 1000
    expect(await detail.locator('[data-role="detail-state"]').textContent()).toBe('done')
    const byPeer = await detail.locator('.by-peer tr').evaluateAll(rs => rs.map(r => (r as HTMLElement).dataset.peer))
    expect(byPeer.length).toBeGreaterThanOrEqual(1)
    for (const p of byPeer) expect(mesh.nodes.map(n => n.peerId)).toContain(p)
    await detail.locator('[data-role="no-logs"], [data-role="logs"]').first().waitFor()
    await page.screenshot({ path: join(artifacts, 'dashboard-job.png'), fullPage: true })
  })

  it('cancels a running job from the page, after a confirm step, and the node reports it cancelled', async () => {
    const chunks = Array.from({ length: 4 }, (_, i) => ({ mode: 'slow', ms: 120_000, value: i }))
    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'faulty.mjs'), '--input-json', JSON.stringify({ chunks }), '--api', api(0), '--detach'])
    expect(submitted.code, `${submitted.stderr}\n${nodeLogs()}`).toBe(0)
    const jobId = submitted.stdout.trim()
    const row = page.locator(`tr[data-job="${jobId}"]`)
    await page.locator(`tr[data-job="${jobId}"][data-state="running"]`).waitFor()

    // The first click only asks; "Keep it" takes the question back.
    await row.locator('[data-action="cancel"]').click()
    await row.locator('[data-action="keep"]').click()
    await row.locator('[data-action="cancel"]').click()
    await row.locator('[data-action="confirm-cancel"]').waitFor()
    await page.screenshot({ path: join(artifacts, 'dashboard-cancel-confirm.png') })
    expect(await jobState(jobId)).toBe('running')
    expect(requests.some(r => r.url.endsWith(`/jobs/${jobId}/cancel`))).toBe(false)

    await row.locator('[data-action="confirm-cancel"]').click()
    await page.locator(`tr[data-job="${jobId}"][data-state="cancelled"]`).waitFor()
    expect(await row.locator('.state').textContent()).toBe('cancelled')
    expect(await row.locator('[data-action="cancel"]').count()).toBe(0)
    await expect.poll(async () => await jobState(jobId), { timeout: DEADLINE_MS }).toBe('cancelled')
    // The cancel went with the token in its header, like every other request of the page.
    await expect.poll(() => requests.filter(r => r.url === `${api(0)}/jobs/${jobId}/cancel`).map(r => r.authorization), { timeout: DEADLINE_MS }).toEqual([`Bearer ${mesh.token}`])
  })

  it('shows a failed job\'s error and its task\'s remote stack in the panel, as text', async () => {
    // Job text is untrusted: markup in an error message must show as characters, never as elements.
    const message = '<img src=x data-injected="1"> boom & <b data-injected="1">bold</b>'
    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'throws.mjs'), '--input-json', JSON.stringify({ message }), '--api', api(0), '--detach'])
    expect(submitted.code, `${submitted.stderr}\n${nodeLogs()}`).toBe(0)
    const jobId = submitted.stdout.trim()
    await page.locator(`tr[data-job="${jobId}"]`).click()
    const detail = page.locator(`#detail[data-job="${jobId}"][data-state="failed"]`)
    await detail.locator('[data-role="stack"]').waitFor()

    const record = await (await mesh.fetch(0, `/jobs/${jobId}`)).json() as { error: string, failure: { taskIndex: number, attempts: number, kind: string, message: string, stack: string, peerId?: string, notRetried?: string } }
    expect(record.failure).toMatchObject({ taskIndex: 0, attempts: 1, kind: 'threw', message })
    const stack = await detail.locator('[data-role="stack"]').textContent()
    expect(stack).toBe(record.failure.stack)
    expect(stack).toMatch(/^Error: <img src=x data-injected="1"> boom & <b data-injected="1">bold<\/b>\n\s+at /)
    expect(await detail.locator('[data-role="error"]').textContent()).toBe(record.error)
    expect(await detail.locator('[data-field="kind"]').textContent()).toBe('threw')
    expect(await detail.locator('[data-field="message"]').textContent()).toBe(message)
    expect(await detail.locator('[data-field="task"]').textContent()).toBe('#0')
    expect(await detail.locator('[data-field="attempts"]').textContent()).toBe('1')
    if (record.failure.peerId !== undefined) expect(await detail.locator('[data-field="node"] .peer').getAttribute('title')).toBe(record.failure.peerId)
    if (record.failure.notRetried !== undefined) expect(await detail.locator('[data-field="not-retried"]').textContent()).toBe(record.failure.notRetried)
    // Shown, not only in a tooltip; and nothing of it became markup.
    expect(await detail.locator('[data-role="stack"]').isVisible()).toBe(true)
    expect(await page.locator('[data-injected]').count()).toBe(0)
    expect(await detail.locator('img, b').count()).toBe(0)
    await page.screenshot({ path: join(artifacts, 'dashboard-failed.png'), fullPage: true })
  })

  it('shows a job\'s task logs in the panel, as text, from GET /jobs/:id/logs', async () => {
    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'chatty.mjs'), '--input-json', JSON.stringify({ tasks: 4, ms: 10 }), '--api', api(0), '--json'])
    expect(submitted.code, `${submitted.stderr}\n${nodeLogs()}`).toBe(0)
    const { jobId } = JSON.parse(submitted.stdout) as { jobId: string }
    const row = page.locator(`#jobs tbody tr[data-job="${jobId}"]`)
    await row.waitFor()
    await row.click()
    const logs = page.locator(`#detail[data-job="${jobId}"] [data-role="logs"]`)
    await logs.waitFor()
    await expect.poll(async () => await logs.locator('li .log-text').allTextContents(), { timeout: 30_000 }).toContain('reduce over 4 results')
    const texts = await logs.locator('li .log-text').allTextContents()
    for (let i = 0; i < 4; i++) expect(texts.some(t => t.startsWith(`map ${i} on `))).toBe(true)
    expect(texts).toContain('split into 4 chunks')
    // stderr lines are marked; each line names its task and node as `meshwork logs` does.
    expect(await logs.locator('li.stderr').count()).toBeGreaterThanOrEqual(5)
    const metas = await logs.locator('li .log-meta').allTextContents()
    expect(metas.some(m => /task 2 on …\w+ · stdout/.test(m))).toBe(true)
    expect(metas.some(m => /^\+.* · reduce on …\w+ · stdout/.test(m))).toBe(true)
    expect(await page.locator('[data-injected]').count()).toBe(0)
  })

  it('cuts a long result in the panel, and shows all of it when asked', async () => {
    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'long-result.mjs'), '--input-json', JSON.stringify({ items: 400 }), '--api', api(0), '--detach'])
    expect(submitted.code, `${submitted.stderr}\n${nodeLogs()}`).toBe(0)
    const jobId = submitted.stdout.trim()
    await page.locator(`tr[data-job="${jobId}"]`).click()
    const result = page.locator(`#detail[data-job="${jobId}"][data-state="done"] [data-role="result"]`)
    await result.waitFor()
    const whole = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ i, text: `item ${i} <b>not markup</b>` })), null, 2)
    expect(await result.getAttribute('data-truncated')).toBe('true')
    const cut = (await result.textContent())!
    expect(cut.length).toBeLessThan(whole.length)
    expect(whole.startsWith(cut.replace(/\n…$/, ''))).toBe(true)
    await page.locator('#detail [data-action="expand-result"]').click()
    await page.locator(`#detail [data-role="result"][data-truncated="false"]`).waitFor()
    expect(await page.locator('#detail [data-role="result"]').textContent()).toBe(whole)
    expect(await page.locator('#detail [data-role="result"] b').count()).toBe(0)
    await page.locator('#detail [data-action="expand-result"]').click()
    await page.locator(`#detail [data-role="result"][data-truncated="true"]`).waitFor()
    // Back to the failed job for the narrow-window test below.
    await page.locator('#jobs tbody tr[data-state="failed"]').click()
    await page.locator('#detail[data-state="failed"]').waitFor()
  })

  it('fits a 420 px wide window: no page-wide horizontal scroll', async () => {
    await page.setViewportSize({ width: 420, height: 900 })
    try {
      // The failed job's panel (a long stack) is open, the jobs table holds three jobs.
      await page.locator('#detail[data-state="failed"] [data-role="stack"]').waitFor()
      expect(await page.locator('#jobs tbody tr').count()).toBeGreaterThanOrEqual(3)
      await expect.poll(async () => await page.evaluate(() => getComputedStyle(document.querySelector('#jobs tbody tr')!).display), { timeout: DEADLINE_MS }).toBe('block')
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420)
      expect(await page.evaluate(() => document.body.scrollWidth)).toBeLessThanOrEqual(420)
      for (const box of await page.locator('#jobs tbody tr, .node, #detail, #timeline').evaluateAll(els => els.map(e => e.getBoundingClientRect().right))) {
        expect(box).toBeLessThanOrEqual(420)
      }
      await page.screenshot({ path: join(artifacts, 'dashboard-420.png'), fullPage: true })
    } finally {
      await page.setViewportSize({ width: 1280, height: 1000 })
    }
  })

  it('keeps the sparklines\' history across a reload', async () => {
    const spark = page.locator(`.node[data-peer="${peer(0)}"] .spark.cpu`)
    await expect.poll(async () => Number(await spark.getAttribute('data-samples')), { timeout: DEADLINE_MS }).toBeGreaterThanOrEqual(5)
    const saved = await page.evaluate(() => JSON.parse(sessionStorage.getItem('meshwork.history') ?? 'null')) as { savedAtMs: number, peers: Record<string, { cpu: number[], mem: number[] }> }
    const before = saved.peers[peer(0)]!
    expect(before.cpu.length).toBeGreaterThanOrEqual(5)
    expect(before.cpu.length).toBeLessThanOrEqual(60)
    expect(Object.keys(saved.peers).sort()).toEqual(mesh.nodes.map(n => n.peerId).sort())

    await page.reload()
    await page.locator('#conn[data-state="live"]').waitFor()
    // The first status after the reload draws the saved samples and the new one (without them: one sample).
    await spark.waitFor()
    expect(Number(await spark.getAttribute('data-samples'))).toBeGreaterThanOrEqual(Math.min(60, before.cpu.length))
    const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('meshwork.history') ?? 'null')) as typeof saved
    const tail = (list: number[]): string => JSON.stringify(list.slice(-4)).slice(1, -1)
    expect(JSON.stringify(after.peers[peer(0)]!.cpu)).toContain(tail(before.cpu))
    expect(JSON.stringify(after.peers[peer(0)]!.mem)).toContain(tail(before.mem))
  })

  it('turns a node killed with SIGKILL dead', async () => {
    const victim = peer(2)
    await page.locator(`.node[data-peer="${victim}"][data-status="alive"]`).waitFor()
    await mesh.kill(2, 'SIGKILL')
    await page.locator(`.node[data-peer="${victim}"][data-status="dead"]`).waitFor()
    expect(await page.locator(`.node[data-peer="${victim}"] .badge`).textContent()).toBe('dead')
    // Its last figures are not shown as if current; its name stays.
    expect(await page.locator(`.node[data-peer="${victim}"] [data-role="cpu"]`).textContent()).toBe('—')
    expect(await page.locator(`.node[data-peer="${victim}"] [data-role="mem"]`).textContent()).toBe('—')
    expect(await page.locator(`.node[data-peer="${victim}"] [data-role="name"]`).textContent()).toBe('node-2')
    expect(await page.locator(`.node[data-peer="${peer(0)}"] [data-role="cpu"]`).textContent()).toMatch(/^\d+%$/)
    expect(await page.locator('#summary').textContent()).toContain('1 dead')
    expect(await page.locator('.node[data-status="alive"]').count()).toBe(2)
    await page.screenshot({ path: join(artifacts, 'dashboard-dead.png'), fullPage: true })
    expect(pageErrors).toEqual([])
  })

  it('keeps the token in sessionStorage only: no cookie, not in the address bar, sent as a header', async () => {
    expect(page.url()).not.toContain(mesh.token)
    expect(page.url()).not.toContain('token=')
    expect(await page.evaluate(() => sessionStorage.getItem('meshwork.token'))).toBe(mesh.token)
    expect(await page.evaluate(() => document.cookie)).toBe('')
    expect(await page.context().cookies()).toEqual([])
    expect(cookiesSet).toEqual([])
    // Data requests carry the header; no request carries the token in its URL.
    const data = requests.filter(r => /\/(events|timeline\/)/.test(new URL(r.url).pathname))
    expect(data.length).toBeGreaterThan(0)
    for (const r of data) expect(r.authorization, r.url).toBe(`Bearer ${mesh.token}`)
    for (const r of requests) expect(r.url).not.toContain(mesh.token)
    // A reload keeps the session (sessionStorage), and stays live.
    await page.reload()
    await page.locator('#conn[data-state="live"]').waitFor()
    expect(await page.context().cookies()).toEqual([])
    // Another browser session, without the link, has no token and says what to do.
    const other = await browser!.newPage()
    try {
      await other.goto(`${api(0)}/`)
      await other.locator('#conn[data-state="refused"]').waitFor({ timeout: DEADLINE_MS })
      expect(await other.locator('#conn').textContent()).toMatch(/meshwork dashboard/)
    } finally {
      await other.close()
    }
  })

  it('serves a fixed set of files with a strict content security policy, and checks timeline requests', async () => {
    const index = await mesh.fetch(0, '/')
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toContain('text/html')
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(index.headers.get('referrer-policy')).toBe('no-referrer')
    // The page's own files are public (a browser cannot send a token on a page load): they hold no data.
    const script = await fetch(`${api(0)}/dashboard/app.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('set-cookie')).toBeNull()
    expect((await fetch(`${api(0)}/events`)).status).toBe(401)
    expect((await fetch(`${api(0)}/timeline/jnosuchjob`)).status).toBe(401)
    expect((await mesh.fetch(0, '/dashboard/app.js')).headers.get('content-type')).toContain('javascript')
    expect((await fetch(`${api(0)}/dashboard/../package.json`, { headers: mesh.authHeaders() })).status).toBe(404)
    expect((await fetch(`${api(0)}/dashboard/%2e%2e%2fpackage.json`, { headers: mesh.authHeaders() })).status).toBe(404)
    expect((await mesh.fetch(0, '/timeline/not%20a%20job')).status).toBe(400)
    expect((await mesh.fetch(0, '/timeline/jnosuchjob')).status).toBe(404)
  })
})

/** The end of every node's log, for a failure message. */
function nodeLogs (): string {
  return mesh.nodes.map(n => {
    try { return `--- node ${n.index}\n${readFileSync(join(n.dataDir, 'node.log'), 'utf8').split('\n').slice(-15).join('\n')}` } catch { return '' }
  }).join('\n')
}

/** A job's state as node 0's API reports it. */
async function jobState (jobId: string): Promise<string> {
  return ((await (await mesh.fetch(0, `/jobs/${jobId}`)).json()) as { state: string }).state
}

/** Tasks with a successful attempt drawn in the timeline. */
async function distinctTasksDone (p: Page): Promise<number> {
  const tasks = await p.locator('#timeline rect.bar[data-outcome="ok"]').evaluateAll(rs => rs.map(r => (r as SVGElement).dataset.task))
  return new Set(tasks).size
}
