// Meshwork dashboard: plain JavaScript and SVG, no framework, no build step.
// Live data comes from GET /events (Server-Sent Events: `status` and `jobs` snapshots, read
// with fetch() so that it carries the token header); the selected job's task timeline from
// GET /timeline/<jobId>, its whole record (the result) from GET /jobs/<jobId>, its logs from
// GET /jobs/<jobId>/logs; the Cancel button sends POST /jobs/<jobId>/cancel. The token lives in
// sessionStorage only (see takeToken), and so do the sparklines' samples (see loadHistory).
// Everything from the network is put into the page with textContent / attributes, never as HTML.

const TOKEN_KEY = 'meshwork.token'
const HISTORY_MAX = 60
/** The sparklines' samples, kept in this tab's sessionStorage so that a reload shows the recent past. */
const HISTORY_KEY = 'meshwork.history'
/** Saved samples older than this are not the recent past: a reload starts afresh. */
const HISTORY_KEPT_MS = 10 * 60_000
/** Peers whose samples are saved, at most (the mesh's first ones). */
const HISTORY_PEERS_MAX = 64
const FINAL = new Set(['done', 'failed', 'cancelled'])
const TIMELINE_REFRESH_MS = 800
/** A result longer than this (as pretty JSON) is cut in the detail panel until the user asks for all of it. */
const RESULT_PREVIEW_CHARS = 4000
/** How often an unfinished job's logs are asked for again. */
const LOGS_REFRESH_MS = 2000
/** Log lines shown at most (the last ones). */
const LOG_LINES_SHOWN = 2000
const SVG_NS = 'http://www.w3.org/2000/svg'

const token = takeToken()
const state = {
  self: null,
  status: null,
  jobs: [],
  /** peerId → { cpu: number[], mem: number[] }, restored from the last page load of this tab. */
  history: loadHistory(),
  selected: null,
  /** Until the user picks a job, follow the newest one. */
  follow: true,
  timeline: null,
  timelineFor: null,
  timelineFinal: false,
  timelineAtMs: 0,
  timelineBusy: false,
  timelineAgain: false,
  /** The job whose cancel button asks "sure?". */
  confirming: null,
  /** jobId → { pending } | { sent } | { error }: cancel requests made from this page. */
  cancels: new Map(),
  /** The selected job's whole record (GET /jobs/:id: its result, its failure): { for, record?, error?, busy }. */
  detail: { for: null, record: null, error: null, busy: false, final: false },
  /** The selected job's logs (GET /jobs/:id/logs): { for, lines?, dropped, missing, error?, atMs, busy, final }. */
  logs: { for: null, lines: null, dropped: 0, missing: false, error: null, atMs: 0, busy: false, final: false },
  /** Whether the selected job's whole result is shown. */
  resultExpanded: false,
}

// ---- the token (see src/node/api/dashboard/token.ts) ----

/**
 * The link `meshwork dashboard` prints carries the token in its fragment (`#token=`), which the
 * browser never sends to a server: it moves into this tab's sessionStorage and out of the
 * address bar. No cookie: the browser would attach one to requests other pages make.
 */
function takeToken () {
  const params = new URLSearchParams(location.hash.slice(1))
  const fromUrl = params.get('token')
  if (fromUrl) {
    params.delete('token')
    const rest = params.toString()
    history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`)
    try { sessionStorage.setItem(TOKEN_KEY, fromUrl) } catch { /* storage disabled: this page still holds it */ }
    return fromUrl
  }
  try { return sessionStorage.getItem(TOKEN_KEY) } catch { return null }
}

const authHeaders = () => (token ? { authorization: `Bearer ${token}` } : {})
const NO_TOKEN = 'the node wants its API token: open the link `meshwork dashboard` prints'

async function getJson (path) {
  return await request(path, { headers: authHeaders(), cache: 'no-store' })
}

/** A POST of the JSON API: the node wants a JSON content type and the token header on every write. */
async function postJson (path, body = {}) {
  return await request(path, { method: 'POST', headers: { ...authHeaders(), 'content-type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store' })
}

async function request (path, init) {
  const res = await fetch(path, init)
  const text = await res.text()
  let body
  try { body = JSON.parse(text) } catch { body = { error: text } }
  if (!res.ok) {
    const err = new Error(body?.error ?? `HTTP ${res.status}`)
    err.status = res.status
    throw err
  }
  return body
}

// ---- the live stream ----

/** Server-Sent Events read with fetch(): EventSource cannot send the Authorization header. */
const STREAM_RETRY_MS = 2000
/** The node sends a comment every 15 s: a stream silent for longer than this is dead. */
const STREAM_SILENT_MS = 45_000

async function connect () {
  if (!token) { setConn('refused', NO_TOKEN); return }
  const abort = new AbortController()
  let heardMs = Date.now()
  const watchdog = setInterval(() => { if (Date.now() - heardMs > STREAM_SILENT_MS) abort.abort() }, 5000)
  let retryMs = STREAM_RETRY_MS
  try {
    const res = await fetch('/events', { headers: { ...authHeaders(), accept: 'text/event-stream' }, cache: 'no-store', signal: abort.signal })
    if (!res.ok) {
      let message = `HTTP ${res.status}`
      try { message = JSON.parse(await res.text()).error ?? message } catch { /* not JSON */ }
      const refused = res.status === 401 || res.status === 403
      setConn(refused ? 'refused' : 'reconnecting', refused ? NO_TOKEN : `${message} — retrying…`)
      retryMs = refused ? 5000 : 3000
    } else {
      setConn('live', 'live')
      await readEvents(res.body, (event, data) => {
        heardMs = Date.now()
        if (event === 'hello') state.self = JSON.parse(data).self
        else if (event === 'status') onStatus(JSON.parse(data))
        else if (event === 'jobs') onJobs(JSON.parse(data).jobs)
      }, () => { heardMs = Date.now() })
      setConn('reconnecting', 'stream closed — reconnecting…')
    }
  } catch (err) {
    setConn('reconnecting', abort.signal.aborted ? 'connection lost — reconnecting…' : `node unreachable (${err.message}) — retrying…`)
  } finally {
    clearInterval(watchdog)
  }
  setTimeout(connect, retryMs)
}

/** Calls onEvent(event, data) for each event of a text/event-stream body, onBytes for anything read. */
async function readEvents (body, onEvent, onBytes) {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    onBytes()
    buffer += decoder.decode(value, { stream: true })
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      const data = []
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue // a comment: the heartbeat
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const text = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))
        if (field === 'event') event = text
        else if (field === 'data') data.push(text)
      }
      if (data.length > 0) onEvent(event, data.join('\n'))
    }
  }
}

function setConn (kind, text) {
  const el = document.getElementById('conn')
  el.dataset.state = kind
  el.textContent = text
}

function onStatus (view) {
  state.status = view
  state.self = view.self
  const seen = new Set()
  for (const p of view.peers) {
    seen.add(p.peerId)
    let h = state.history.get(p.peerId)
    if (h === undefined) { h = { cpu: [], mem: [] }; state.history.set(p.peerId, h) }
    if ((p.status === 'alive' || p.status === 'suspect') && !isStale(p)) {
      push(h.cpu, p.cpuLoad)
      push(h.mem, p.memTotal > 0 ? 1 - p.memFree / p.memTotal : 0)
    }
  }
  for (const id of state.history.keys()) if (!seen.has(id)) state.history.delete(id)
  saveHistory()
  renderNodes()
  renderSummary()
  if (state.timeline?.available) renderTimeline() // row labels show peer status
}

/** The samples a previous load of this page saved, if recent and well formed; else none. */
function loadHistory () {
  const history = new Map()
  try {
    const saved = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? 'null')
    if (saved === null || typeof saved !== 'object' || !Number.isFinite(saved.savedAtMs)) return history
    if (Math.abs(Date.now() - saved.savedAtMs) > HISTORY_KEPT_MS) return history
    const samples = list => Array.isArray(list) ? list.filter(v => Number.isFinite(v)).map(v => Math.max(0, Math.min(1, v))).slice(-HISTORY_MAX) : []
    for (const [peerId, h] of Object.entries(saved.peers ?? {}).slice(0, HISTORY_PEERS_MAX)) {
      if (h !== null && typeof h === 'object') history.set(peerId, { cpu: samples(h.cpu), mem: samples(h.mem) })
    }
  } catch { /* unreadable or storage disabled: start afresh */ }
  return history
}

/** Bounded: HISTORY_MAX samples of HISTORY_PEERS_MAX peers at most, three decimals each. */
function saveHistory () {
  const peers = {}
  const round = list => list.map(v => Math.round(v * 1000) / 1000)
  for (const [peerId, h] of [...state.history].slice(0, HISTORY_PEERS_MAX)) peers[peerId] = { cpu: round(h.cpu), mem: round(h.mem) }
  try { sessionStorage.setItem(HISTORY_KEY, JSON.stringify({ savedAtMs: Date.now(), peers })) } catch { /* full or disabled: the page keeps its own */ }
}

function push (list, value) {
  list.push(Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : 0)
  if (list.length > HISTORY_MAX) list.shift()
}

function onJobs (jobs) {
  state.jobs = sortJobs(jobs)
  if (state.follow && state.jobs.length > 0) {
    const newest = state.jobs[0]
    if (state.selected !== newest.jobId) select(newest.jobId, false)
  }
  if (state.selected !== null && !state.jobs.some(j => j.jobId === state.selected)) {
    state.selected = null
    state.timeline = null
  }
  for (const id of state.cancels.keys()) if (!state.jobs.some(j => j.jobId === id && !FINAL.has(j.state))) state.cancels.delete(id)
  if (state.confirming !== null && !state.jobs.some(j => j.jobId === state.confirming && !FINAL.has(j.state))) state.confirming = null
  renderJobs()
  renderNodes()
  renderSummary()
  refreshTimeline(false)
  refreshDetail()
  renderDetail()
}

/** Unfinished first (newest first), then finished (most recently finished first). */
function sortJobs (jobs) {
  return [...jobs].sort((a, b) => {
    const fa = FINAL.has(a.state) ? 1 : 0
    const fb = FINAL.has(b.state) ? 1 : 0
    if (fa !== fb) return fa - fb
    const ta = fa ? (a.finishedAtMs ?? a.submittedAtMs) : a.submittedAtMs
    const tb = fb ? (b.finishedAtMs ?? b.submittedAtMs) : b.submittedAtMs
    return tb - ta
  })
}

function select (jobId, byUser) {
  if (byUser) state.follow = false
  if (state.selected === jobId) return
  state.selected = jobId
  state.timeline = null
  state.timelineFor = null
  state.timelineFinal = false
  state.resultExpanded = false
  history.replaceState(null, '', `${location.pathname}${location.search}${jobId === null ? '' : `#job=${encodeURIComponent(jobId)}`}`)
  renderJobs()
  renderTimeline()
  refreshTimeline(true)
  refreshDetail()
  renderDetail()
}

// ---- cancelling a job ----

/** POST /jobs/<id>/cancel (what `meshwork cancel` does); the row turns cancelled when the node says so. */
async function cancelJob (jobId) {
  state.confirming = null
  state.cancels.set(jobId, { pending: true })
  renderJobs()
  renderDetail()
  try {
    await postJson(`/jobs/${encodeURIComponent(jobId)}/cancel`)
    state.cancels.set(jobId, { sent: true })
  } catch (err) {
    state.cancels.set(jobId, { error: err.message })
  }
  renderJobs()
  renderDetail()
}

/** What the cancel controls of an unfinished job show: a key for redrawing them only when it changes. */
function cancelKey (job) {
  if (job === undefined || FINAL.has(job.state)) return 'none'
  const c = state.cancels.get(job.jobId)
  if (c?.pending || c?.sent) return 'cancelling'
  if (state.confirming === job.jobId) return 'confirm'
  return c?.error ? `error:${c.error}` : 'ask'
}

/** A cancel button, its confirm step ("Cancel job?" Yes / Keep it), then "cancelling…". */
function cancelControls (job) {
  const key = cancelKey(job)
  if (key === 'none') return []
  if (key === 'cancelling') return [h('span', { class: 'cancelling', dataset: { role: 'cancelling' } }, 'cancelling…')]
  const stop = e => e.stopPropagation()
  const act = fn => e => { e.stopPropagation(); fn() }
  const redraw = () => { renderJobs(); renderDetail() }
  if (key === 'confirm') {
    return [h('span', { class: 'confirm', role: 'group', 'aria-label': `cancel job ${job.jobId}?`, onkeydown: e => { stop(e); if (e.key === 'Escape') { state.confirming = null; redraw() } } },
      h('span', {}, 'Cancel job?'),
      h('button', { type: 'button', class: 'btn danger', dataset: { action: 'confirm-cancel' }, onclick: act(() => { void cancelJob(job.jobId) }) }, 'Yes, cancel'),
      h('button', { type: 'button', class: 'btn', dataset: { action: 'keep' }, onclick: act(() => { state.confirming = null; redraw() }) }, 'Keep it'))]
  }
  const c = state.cancels.get(job.jobId)
  return [
    h('button', { type: 'button', class: 'btn', dataset: { action: 'cancel' }, title: `cancel job ${job.jobId} on every node`, onkeydown: stop, onclick: e => { e.stopPropagation(); const inDetail = e.currentTarget.closest('#detail') !== null; state.confirming = job.jobId; redraw(); focusAction(job.jobId, 'confirm-cancel', inDetail) } }, 'Cancel'),
    c?.error ? h('span', { class: 'cancel-error', dataset: { role: 'cancel-error' } }, `not cancelled: ${c.error}`) : null,
  ]
}

function focusAction (jobId, action, inDetail) {
  const where = inDetail ? `#detail[data-job="${CSS.escape(jobId)}"]` : `tr[data-job="${CSS.escape(jobId)}"]`
  document.querySelector(`${where} [data-action="${action}"]`)?.focus()
}

// ---- the selected job's timeline ----

function refreshTimeline (force) {
  const jobId = state.selected
  if (jobId === null) return
  if (state.timelineBusy) { state.timelineAgain = true; return }
  if (state.timelineFor === jobId && state.timelineFinal) return
  if (!force && Date.now() - state.timelineAtMs < TIMELINE_REFRESH_MS) return
  const job = state.jobs.find(j => j.jobId === jobId)
  const jobFinal = job !== undefined && FINAL.has(job.state)
  state.timelineBusy = true
  getJson(`/timeline/${encodeURIComponent(jobId)}`).then(answer => {
    if (state.selected !== jobId) return
    state.timeline = { ...answer, receivedAtMs: Date.now() }
    state.timelineFor = jobId
    state.timelineFinal = jobFinal && answer.available && answer.timeline.endedAtMs !== undefined
  }, err => {
    if (state.selected !== jobId) return
    state.timeline = { available: false, reason: err.message, receivedAtMs: Date.now() }
    state.timelineFor = jobId
  }).finally(() => {
    state.timelineBusy = false
    state.timelineAtMs = Date.now()
    renderTimeline()
    if (state.timelineAgain) {
      state.timelineAgain = false
      refreshTimeline(false)
    }
  })
}

// Running bars grow between snapshots; unfinished jobs are asked again now and then.
setInterval(() => {
  const job = state.jobs.find(j => j.jobId === state.selected)
  if (job !== undefined && !(state.timelineFor === job.jobId && state.timelineFinal)) refreshTimeline(false)
  if (job !== undefined && !FINAL.has(job.state)) { renderTimeline(); renderJobs() }
  if (job !== undefined) { refreshDetail(); renderDetail() }
}, 1000)

// ---- rendering helpers ----

function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

function s (tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag)
  setAttrs(el, attrs)
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

function setAttrs (el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.setAttribute('class', v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
}

const shortId = id => (typeof id === 'string' && id.length > 10 ? `…${id.slice(-8)}` : String(id ?? ''))
const pct = f => `${Math.round((Number.isFinite(f) ? f : 0) * 100)}%`

function bytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = Number.isFinite(n) ? n : 0
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

function duration (ms) {
  if (!Number.isFinite(ms) || ms < 0) return ''
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`
  return `${Math.floor(ms / 3_600_000)}h ${Math.round((ms % 3_600_000) / 60_000)}m`
}

function sparkline (values, cls) {
  const w = 120
  const hgt = 24
  const svg = s('svg', { class: `spark ${cls}`, viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', dataset: { samples: String(values.length) } })
  svg.append(s('line', { class: 'base', x1: 0, x2: w, y1: hgt - 0.5, y2: hgt - 0.5 }))
  if (values.length === 0) return svg
  const step = w / (HISTORY_MAX - 1)
  const x0 = w - step * (values.length - 1)
  const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(hgt - 1 - v * (hgt - 2)).toFixed(1)}`)
  svg.append(s('polygon', { points: `${x0.toFixed(1)},${hgt} ${pts.join(' ')} ${w},${hgt}` }))
  svg.append(s('polyline', { points: values.length === 1 ? `${x0 - 2},${pts[0].split(',')[1]} ${pts[0]}` : pts.join(' ') }))
  return svg
}

// ---- the mesh ----

/** What the page shows in place of a figure that is not current. */
const NO_FIGURE = '—'

/** The figures of a dead, left or silent node are its last, not its current ones (older nodes send no `stale`). */
function isStale (p) { return p.stale ?? (p.status === 'dead' || p.status === 'left') }

function renderSummary () {
  const view = state.status
  if (view === null) return
  const count = st => view.peers.filter(p => p.status === st).length
  const live = view.peers.filter(p => p.status === 'alive')
  const slotsTotal = live.reduce((n, p) => n + p.slotsTotal, 0)
  const slotsFree = live.reduce((n, p) => n + p.slotsFree, 0)
  const running = state.jobs.filter(j => !FINAL.has(j.state)).length
  const parts = [`${view.peers.length} node${view.peers.length === 1 ? '' : 's'}`, `${count('alive')} alive`]
  if (count('suspect') > 0) parts.push(`${count('suspect')} suspect`)
  if (count('dead') > 0) parts.push(`${count('dead')} dead`)
  if (count('left') > 0) parts.push(`${count('left')} left`)
  parts.push(`${slotsTotal - slotsFree}/${slotsTotal} slots busy`, `${running} job${running === 1 ? '' : 's'} running`)
  document.getElementById('summary').textContent = parts.join(' · ')
  document.getElementById('mesh-count').textContent = `${count('alive')}/${view.peers.length} alive`
  document.getElementById('self').textContent = `this node: ${view.self}`
}

function renderNodes () {
  const view = state.status
  const root = document.getElementById('nodes')
  if (view === null) return
  const coordinating = new Map()
  for (const j of state.jobs) {
    if (FINAL.has(j.state)) continue
    const list = coordinating.get(j.coordinator) ?? []
    list.push(j)
    coordinating.set(j.coordinator, list)
  }
  const cards = view.peers.map(p => {
    // A dead or silent node's last figures are not its current ones: "—", not numbers.
    const stale = isStale(p)
    const fig = text => stale ? NO_FIGURE : text
    const hist = state.history.get(p.peerId) ?? { cpu: [], mem: [] }
    const busy = Math.max(0, p.slotsTotal - p.slotsFree)
    const memUsed = p.memTotal > 0 ? 1 - p.memFree / p.memTotal : 0
    const labels = Object.entries(p.labels ?? {}).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`))
    const jobs = coordinating.get(p.peerId) ?? []
    const gauge = h('div', { class: 'gauge', title: `${busy} of ${p.slotsTotal} slots busy` }, h('span'))
    gauge.firstChild.style.width = p.slotsTotal > 0 && !stale ? `${(100 * busy / p.slotsTotal).toFixed(0)}%` : '0%'
    return h('article', { class: 'node', dataset: { peer: p.peerId, status: p.status } },
      h('div', { class: 'node-head' },
        h('span', { class: `badge s-${p.status}`, dataset: { role: 'status' } }, p.status),
        p.name ? h('span', { class: 'name', dataset: { role: 'name' } }, p.name) : null,
        h('span', { class: 'id', title: p.peerId }, shortId(p.peerId)),
        p.peerId === view.self ? h('span', { class: 'tag' }, 'this node') : null,
        p.accepting ? null : h('span', { class: 'tag' }, 'yielding'),
      ),
      h('div', { class: 'metrics' },
        h('label', {}, 'CPU'), sparkline(hist.cpu, 'cpu'), h('span', { class: 'val', dataset: { role: 'cpu' } }, fig(pct(p.cpuLoad))),
        h('label', {}, 'Memory'), sparkline(hist.mem, 'mem'), h('span', { class: 'val', dataset: { role: 'mem' }, title: stale ? 'last heard: not current' : `${bytes(p.memFree)} free of ${bytes(p.memTotal)}` }, fig(pct(memUsed))),
        h('label', {}, 'Slots'), gauge, h('span', { class: 'val', dataset: { role: 'slots' } }, fig(`${busy}/${p.slotsTotal}`)),
      ),
      h('div', { class: 'facts' },
        [...(stale
          ? [`figures not current${p.heardAgoMs !== undefined ? `: last heard ${duration(p.heardAgoMs)} ago` : ''}`]
          : [`${p.runningTasks} task${p.runningTasks === 1 ? '' : 's'} running`, `disk ${bytes(p.diskFree)} free`, `I/O ${pct(p.ioLoad)}`, `up ${duration(p.uptimeMs)}`]),
        `${p.cpuCores} cores`, `${p.os}/${p.arch}`, `v${p.softwareVersion}`].join(' · '),
      ),
      labels.length > 0 ? h('div', { class: 'coord' }, ...labels) : null,
      jobs.length > 0
        ? h('div', { class: 'coord', dataset: { role: 'coordinates' } }, 'coordinates',
          ...jobs.map(j => h('a', { dataset: { job: j.jobId }, title: `${j.moduleName} · ${j.state}`, onpointerdown: () => select(j.jobId, true) }, shortId(j.jobId))))
        : null,
    )
  })
  root.replaceChildren(...cards)
}

// ---- jobs ----

function progressOf (job) {
  if (job.state === 'done') return 100
  return job.tasks > 0 ? Math.floor((100 * job.done) / job.tasks) : 0
}

/** Rows are kept per job and refilled in place, so a click is never lost to a redraw. */
const jobRows = new Map()

function renderJobs () {
  const tbody = document.querySelector('#jobs tbody')
  document.getElementById('jobs-empty').hidden = state.jobs.length > 0
  document.getElementById('jobs').hidden = state.jobs.length === 0
  const now = Date.now()
  const keep = new Set()
  const rows = state.jobs.map(j => {
    keep.add(j.jobId)
    let tr = jobRows.get(j.jobId)
    if (tr === undefined) {
      tr = h('tr', { dataset: { job: j.jobId }, tabindex: '0', onclick: () => select(j.jobId, true), onkeydown: e => { if (e.key === 'Enter') select(j.jobId, true) } })
      jobRows.set(j.jobId, tr)
    }
    const progress = progressOf(j)
    const bar = h('div', { class: 'progress', dataset: { progress: String(progress), state: j.state }, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(progress) },
      h('span', { class: 'fill' }),
      h('span', { class: 'label' }, `${progress}% · ${j.done}/${j.tasks}${j.inFlight > 0 ? ` · ${j.inFlight} running` : ''}`))
    bar.firstChild.style.width = `${progress}%`
    const time = j.wallMs !== undefined ? duration(j.wallMs) : `${duration(now - j.submittedAtMs)}…`
    tr.className = j.jobId === state.selected ? 'selected' : ''
    tr.dataset.state = j.state
    // The actions cell is kept while its buttons stay the same, so a redraw never takes the focus from them.
    const cells = [
      h('td', { class: 'id', title: j.jobId, dataset: { label: 'Job' } }, j.jobId),
      h('td', { dataset: { label: 'Module' } }, j.moduleName),
      h('td', { dataset: { label: 'State' } }, h('span', { class: `state j-${j.state}`, title: j.error ?? '' }, j.state),
        j.waiting !== undefined ? h('small', { class: 'waiting', title: j.waiting.reason }, `waiting: ${j.waiting.detail}`) : null),
      h('td', { class: 'cell-progress', dataset: { label: 'Progress' } }, bar),
      h('td', { class: 'mono', title: j.coordinator, dataset: { label: 'Coordinator' } }, shortId(j.coordinator), j.term > 1 ? h('small', {}, `term ${j.term}`) : null),
      h('td', { dataset: { label: 'Failures' } }, String(j.failures)),
      h('td', { dataset: { label: 'Time' } }, time),
    ]
    const old = tr.querySelector(':scope > td.actions')
    const actions = old !== null && old.dataset.key === cancelKey(j) ? old : h('td', { class: 'actions', dataset: { key: cancelKey(j) } }, ...cancelControls(j))
    if (old !== null && tr.children.length === cells.length + 1) {
      cells.forEach((cell, i) => tr.children[i].replaceWith(cell))
      if (actions !== old) old.replaceWith(actions)
    } else {
      tr.replaceChildren(...cells, actions)
    }
    return tr
  })
  for (const id of jobRows.keys()) if (!keep.has(id)) jobRows.delete(id)
  reorder(tbody, rows)
}

/** Puts `children` in `parent` in this order, moving only what is out of place. */
function reorder (parent, children) {
  children.forEach((child, i) => { if (parent.children[i] !== child) parent.insertBefore(child, parent.children[i] ?? null) })
  while (parent.children.length > children.length) parent.lastElementChild.remove()
}

// ---- the selected job's detail panel ----

/**
 * The stream's records leave the result out: the panel reads the job's whole record
 * (GET /jobs/<id>) when it is selected and again when its state changes, and its logs
 * (GET /jobs/<id>/logs) now and then while it runs. All of it is the job's own text: set as
 * text only, never as HTML.
 */
function refreshDetail () {
  const jobId = state.selected
  if (jobId === null) return
  const job = state.jobs.find(j => j.jobId === jobId)
  const d = state.detail
  if (d.for !== jobId) Object.assign(d, { for: jobId, record: null, error: null, busy: false, final: false, state: null })
  const l = state.logs
  if (l.for !== jobId) Object.assign(l, { for: jobId, lines: null, dropped: 0, missing: false, error: null, atMs: 0, busy: false, final: false })
  if (!d.busy && !d.final && (d.state === null || (job !== undefined && job.state !== d.state))) {
    d.busy = true
    d.state = job?.state ?? 'unknown'
    const jobFinal = job !== undefined && FINAL.has(job.state)
    getJson(`/jobs/${encodeURIComponent(jobId)}`).then(record => {
      if (d.for !== jobId) return
      d.record = record
      d.error = null
      d.final = FINAL.has(record.state)
      if (!d.final && jobFinal) d.state = null // the stream is ahead of this node's record: ask again
    }, err => {
      if (d.for !== jobId) return
      d.error = err.message
      d.final = jobFinal
    }).finally(() => {
      if (d.for !== jobId) return
      d.busy = false
      renderDetail()
    })
  }
  if (!l.busy && !l.final && (l.lines === null || Date.now() - l.atMs >= LOGS_REFRESH_MS)) {
    l.busy = true
    const jobFinal = job !== undefined && FINAL.has(job.state)
    getJson(`/jobs/${encodeURIComponent(jobId)}/logs`).then(answer => {
      if (l.for !== jobId) return
      l.lines = Array.isArray(answer?.lines) ? answer.lines : []
      l.dropped = Number.isFinite(answer?.dropped) ? answer.dropped : 0
      l.missing = false
      l.error = null
      l.final = jobFinal
    }, err => {
      if (l.for !== jobId) return
      // 404: no logs for this job (yet: asked again while it runs). 400: a node without the route,
      // whose GET /jobs/* takes "<id>/logs" for a bad job id: not asked again.
      l.missing = err.status === 404 || err.status === 400
      l.error = l.missing ? null : err.message
      l.lines = l.lines ?? []
      l.final = jobFinal || err.status === 400
    }).finally(() => {
      if (l.for !== jobId) return
      l.busy = false
      l.atMs = Date.now()
      renderDetail()
    })
  }
}

/** The panel's parts, each redrawn only when what it shows changed (a redraw would lose a selection or a scroll). */
const detailParts = new Map()

function part (name, key, build) {
  let entry = detailParts.get(name)
  if (entry === undefined || !entry.el.isConnected) {
    entry = { el: h('div', { class: `detail-part part-${name}`, dataset: { part: name } }), key: null }
    detailParts.set(name, entry)
  }
  if (entry.key !== key) {
    entry.key = key
    const children = build()
    entry.el.replaceChildren(...(children ?? []))
    entry.el.hidden = children === null
  }
  return entry.el
}

function renderDetail () {
  const panel = document.getElementById('detail')
  const jobId = state.selected
  const job = state.jobs.find(j => j.jobId === jobId)
  if (jobId === null || job === undefined) {
    panel.hidden = true
    delete panel.dataset.job
    return
  }
  panel.hidden = false
  panel.dataset.job = jobId
  const fetched = state.detail.for === jobId ? state.detail.record : null
  // The stream's record is the live one; the fetched one adds the result (and is the word on a finished job).
  const rec = fetched !== null && FINAL.has(fetched.state) ? { ...job, ...fetched } : { ...(fetched ?? {}), ...job }
  panel.dataset.state = rec.state
  document.getElementById('detail-title').textContent = `${jobId} · ${rec.moduleName}`
  const body = document.getElementById('detail-body')
  const parts = [
    part('head', JSON.stringify([jobId, rec.state, rec.kind, rec.priority, cancelKey(job)]), () => detailHead(rec, job)),
    part('facts', JSON.stringify([jobId, rec.state, rec.coordinator, rec.term, rec.submitter, rec.tasks, rec.done, rec.inFlight, rec.failures, rec.submittedAtMs, rec.finishedAtMs, rec.wallMs, rec.replicated, rec.taskRoundTripMs, peerNamesKey()]), () => detailFacts(rec)),
    part('peers', JSON.stringify([jobId, rec.tasksByPeer, peerNamesKey()]), () => detailPeers(rec)),
    part('failure', JSON.stringify([jobId, rec.state, rec.error, rec.failure, peerNamesKey()]), () => detailFailure(rec)),
    part('result', JSON.stringify([jobId, rec.state, fetched !== null && 'result' in fetched, state.detail.error, state.detail.busy, state.resultExpanded]), () => detailResult(rec, fetched)),
    part('logs', JSON.stringify([jobId, state.logs.for === jobId, state.logs.lines?.length ?? null, state.logs.lines?.at(-1)?.seq, state.logs.dropped, state.logs.missing, state.logs.error, peerNamesKey()]), () => detailLogs(rec)),
  ]
  reorder(body, parts)
  updateElapsed(rec)
}

function peerNamesKey () {
  return (state.status?.peers ?? []).map(p => `${p.peerId}=${p.name ?? ''}`).join(',')
}

/** "build-3 …a1b2c3d4" when the node has a name, else its short id; the whole id in the title. */
function peerLabel (peerId) {
  const name = state.status?.peers.find(p => p.peerId === peerId)?.name
  return h('span', { class: 'peer', title: peerId }, name ? `${name} ` : '', h('span', { class: 'mono' }, shortId(peerId)), peerId === state.self ? ' (this node)' : '')
}

function detailHead (rec, job) {
  return [h('div', { class: 'detail-head' },
    h('span', { class: `state j-${rec.state}`, dataset: { role: 'detail-state' } }, rec.state),
    h('span', { class: 'tag' }, rec.kind),
    h('span', { class: 'tag' }, `priority ${rec.priority}`),
    h('span', { class: 'spacer' }),
    ...cancelControls(job),
    h('button', { type: 'button', class: 'btn ghost', dataset: { action: 'close' }, title: 'close the panel', 'aria-label': 'close the job panel', onclick: () => { state.follow = false; select(null, true) } }, '×'),
  )]
}

function when (ms) {
  if (!Number.isFinite(ms)) return '—'
  const d = new Date(ms)
  return `${d.toLocaleTimeString()} · ${d.toLocaleDateString()}`
}

function detailFacts (rec) {
  const rows = [
    ['Submitted', when(rec.submittedAtMs)],
    ['Finished', FINAL.has(rec.state) ? when(rec.finishedAtMs) : null],
    [FINAL.has(rec.state) ? 'Wall time' : 'Running for', h('span', { dataset: { role: 'elapsed' } }, '')],
    ['Tasks', `${rec.done}/${rec.tasks} done${rec.inFlight > 0 ? ` · ${rec.inFlight} running` : ''}`],
    ['Failed attempts', String(rec.failures)],
    ['Coordinator', h('span', {}, peerLabel(rec.coordinator), rec.term > 1 ? ` · term ${rec.term}` : '')],
    ['Submitter', peerLabel(rec.submitter)],
    ['Task round trip', rec.taskRoundTripMs ? `p50 ${duration(rec.taskRoundTripMs.p50)} · p99 ${duration(rec.taskRoundTripMs.p99)} · ${rec.taskRoundTripMs.samples} samples` : null],
    ['Replicated', rec.replicated === undefined ? null : rec.replicated ? 'yes' : 'not yet'],
  ]
  return [h('dl', { class: 'kv' }, ...rows.filter(([, v]) => v !== null).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))]
}

function updateElapsed (rec) {
  const el = document.querySelector('#detail [data-role="elapsed"]')
  if (el === null) return
  el.textContent = rec.wallMs !== undefined ? duration(rec.wallMs) : FINAL.has(rec.state) ? duration((rec.finishedAtMs ?? Date.now()) - rec.submittedAtMs) : duration(Date.now() - rec.submittedAtMs)
}

function detailPeers (rec) {
  const entries = Object.entries(rec.tasksByPeer ?? {}).filter(([, n]) => Number.isFinite(n)).sort((a, b) => b[1] - a[1])
  if (entries.length === 0) return [h('h3', {}, 'Tasks by node'), h('p', { class: 'empty' }, 'no task finished yet')]
  const most = Math.max(1, ...entries.map(([, n]) => n))
  return [h('h3', {}, 'Tasks by node'), h('table', { class: 'by-peer' }, h('tbody', {}, ...entries.map(([peerId, n]) => {
    const gauge = h('div', { class: 'gauge' }, h('span'))
    gauge.firstChild.style.width = `${(100 * n / most).toFixed(0)}%`
    return h('tr', { dataset: { peer: peerId } }, h('td', {}, peerLabel(peerId)), h('td', { class: 'num' }, String(n)), h('td', { class: 'bar-cell' }, gauge))
  })))]
}

function detailFailure (rec) {
  if (rec.state !== 'failed' && rec.error === undefined && rec.failure === undefined) return null
  const f = rec.failure
  const out = [h('h3', {}, rec.state === 'cancelled' ? 'Cancelled' : 'Error')]
  if (rec.error !== undefined) out.push(h('p', { class: 'error-text', dataset: { role: 'error' } }, rec.error))
  if (f !== undefined) {
    const rows = [
      ['Task', `#${f.taskIndex}`],
      ['Kind', f.kind],
      ['Message', f.message],
      ['Node', f.peerId !== undefined ? peerLabel(f.peerId) : null],
      ['Attempts', String(f.attempts)],
      ['Not retried', f.notRetried ?? null],
    ]
    out.push(h('dl', { class: 'kv', dataset: { role: 'failure' } }, ...rows.filter(([, v]) => v !== null).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { field: k.toLowerCase().replace(/ /g, '-') } }, v)])))
    out.push(h('p', { class: 'sub' }, f.stack !== undefined ? 'Stack, as the task\'s node reported it:' : 'The task\'s node reported no stack.'))
    if (f.stack !== undefined) out.push(h('pre', { class: 'code stack', dataset: { role: 'stack' } }, f.stack))
  } else if (rec.state === 'failed') {
    out.push(h('p', { class: 'sub' }, 'No task failure recorded (the job failed as a whole, or on an older node).'))
  }
  return out
}

function detailResult (rec, fetched) {
  if (rec.state !== 'done') return null
  const head = h('h3', {}, 'Result')
  if (fetched === null || !('result' in fetched)) {
    if (state.detail.error !== null) return [head, h('p', { class: 'empty', dataset: { role: 'result-missing' } }, `result not available: ${state.detail.error}`)]
    return [head, h('p', { class: 'empty' }, state.detail.busy || !FINAL.has(fetched?.state) ? 'loading…' : 'no result')]
  }
  let text
  try { text = JSON.stringify(fetched.result, null, 2) ?? 'undefined' } catch { text = String(fetched.result) }
  const long = text.length > RESULT_PREVIEW_CHARS
  const shown = long && !state.resultExpanded ? `${text.slice(0, RESULT_PREVIEW_CHARS)}\n…` : text
  const copied = h('span', { class: 'sub', role: 'status' })
  const copy = h('button', {
    type: 'button', class: 'btn', dataset: { action: 'copy-result' },
    onclick: () => {
      const done = ok => { copied.textContent = ok ? 'copied' : 'could not copy: select the text instead' }
      if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).then(() => done(true), () => done(false))
      else done(false)
    },
  }, 'Copy')
  const toggle = long
    ? h('button', { type: 'button', class: 'btn', dataset: { action: 'expand-result' }, onclick: () => { state.resultExpanded = !state.resultExpanded; renderDetail() } },
      state.resultExpanded ? 'Show less' : `Show all (${text.length.toLocaleString()} characters)`)
    : null
  return [
    h('div', { class: 'part-head' }, head, h('span', { class: 'spacer' }), toggle, copy, copied),
    h('pre', { class: 'code result', dataset: { role: 'result', truncated: String(long && !state.resultExpanded) } }, shown),
  ]
}

function detailLogs (rec) {
  const l = state.logs
  const head = h('h3', {}, 'Logs')
  if (l.for !== rec.jobId || l.lines === null) return [head, h('p', { class: 'empty' }, 'loading…')]
  if (l.error !== null) return [head, h('p', { class: 'empty', dataset: { role: 'logs-error' } }, `logs not available: ${l.error}`)]
  if (l.missing || l.lines.length === 0) return [head, h('p', { class: 'empty', dataset: { role: 'no-logs' } }, l.missing ? 'no logs' : 'no logs yet')]
  const lines = l.lines.slice(-LOG_LINES_SHOWN)
  const start = Number.isFinite(rec.submittedAtMs) ? rec.submittedAtMs : lines[0]?.atMs
  const cut = l.dropped + (l.lines.length - lines.length)
  const list = h('ol', { class: 'logs code', dataset: { role: 'logs' } }, ...lines.map(line => h('li', { class: line.stream === 'stderr' ? 'stderr' : 'stdout', dataset: { seq: String(line.seq) } },
    h('span', { class: 'log-meta', title: `${Number.isFinite(line.atMs) ? new Date(line.atMs).toISOString() : ''} · ${line.node ?? ''}` },
      `+${duration(Math.max(0, line.atMs - start)) || '0 ms'} · ${logTaskLabel(line)}${line.node !== undefined ? ` on ${shortId(String(line.node))}` : ''} · ${line.stream} `),
    h('span', { class: 'log-text' }, String(line.text ?? '')))))
  return [head, cut > 0 ? h('p', { class: 'sub' }, `${cut} earlier line${cut === 1 ? '' : 's'} not shown`) : null, list].filter(x => x !== null)
}

/** "task 3", "task 3 #2" (a later attempt), "split", "reduce": as `meshwork logs` names them. */
function logTaskLabel (line) {
  if (line.task === 'split' || line.task === 'reduce') return String(line.task)
  return `task ${String(line.task)}${Number.isInteger(line.attempt) && line.attempt > 1 ? ` #${line.attempt}` : ''}`
}

// ---- the Gantt view ----

function renderTimeline () {
  const root = document.getElementById('timeline')
  const title = document.getElementById('timeline-title')
  const jobId = state.selected
  if (jobId === null) {
    title.textContent = 'select a job'
    root.replaceChildren()
    return
  }
  const job = state.jobs.find(j => j.jobId === jobId)
  const answer = state.timelineFor === jobId ? state.timeline : null
  title.textContent = `${jobId}${job ? ` · ${job.moduleName} · ${job.state}` : ''}`
  if (answer === null) {
    root.replaceChildren(h('p', { class: 'note' }, 'loading…'))
    return
  }
  if (!answer.available) {
    root.replaceChildren(h('p', { class: 'note', dataset: { role: 'unavailable' } }, `No timeline: ${answer.reason}`))
    return
  }
  const t = answer.timeline
  const notes = []
  const retries = t.attempts.filter(a => a.attempt > 1 && !a.backup).length
  const backups = t.attempts.filter(a => a.backup).length
  const failed = t.attempts.filter(a => a.outcome === 'failed').length
  notes.push(`${t.tasks} tasks · ${t.attempts.length} attempts · ${retries} retr${retries === 1 ? 'y' : 'ies'} · ${backups} backup${backups === 1 ? '' : 's'} · ${failed} failed · coordinator ${shortId(t.coordinator)}${t.term > 1 ? ` (term ${t.term})` : ''}`)
  if (t.restored > 0) notes.push(`${t.restored} tasks were finished under an earlier coordinator and are not shown.`)
  if (t.omitted > 0) notes.push(`${t.omitted} older attempts are not kept (the timeline holds the most recent ${t.attempts.length}).`)
  const nowMs = t.endedAtMs ?? t.nowMs + (Date.now() - answer.receivedAtMs)
  root.replaceChildren(...notes.map(n => h('p', { class: 'note' }, n)), gantt(t, nowMs, Math.max(520, root.clientWidth)))
}

function gantt (t, nowMs, width) {
  const labelW = 128
  const right = 14
  const laneH = 14
  const laneGap = 3
  const rowPad = 5
  const axisH = 22
  const startMs = Math.min(t.startedAtMs, ...t.attempts.map(a => a.startMs))
  const endMs = Math.max(startMs + 1, nowMs, ...t.attempts.map(a => a.endMs ?? nowMs))
  const plotW = width - labelW - right
  const x = ms => labelW + ((ms - startMs) / (endMs - startMs)) * plotW

  // Rows: peers in the mesh's order, then any other peer that ran something.
  const statusOf = new Map((state.status?.peers ?? []).map(p => [p.peerId, p.status]))
  const nameOf = new Map((state.status?.peers ?? []).filter(p => p.name).map(p => [p.peerId, p.name]))
  const peers = [...new Set([...(state.status?.peers ?? []).map(p => p.peerId).filter(id => t.attempts.some(a => a.peer === id)), ...t.attempts.map(a => a.peer)])]
  const rows = peers.map(peer => {
    // Greedy lanes: each attempt goes to the first lane free at its start.
    const lanes = []
    const placed = []
    for (const a of t.attempts.filter(a => a.peer === peer).sort((p, q) => p.startMs - q.startMs)) {
      const end = a.endMs ?? nowMs
      let lane = lanes.findIndex(laneEnd => laneEnd <= a.startMs)
      if (lane < 0) { lane = Math.min(lanes.length, 15); if (lane === lanes.length) lanes.push(end) }
      lanes[lane] = Math.max(lanes[lane] ?? 0, end)
      placed.push({ a, lane, end })
    }
    return { peer, placed, lanes: Math.max(1, lanes.length) }
  })
  let y = axisH
  const height = axisH + rows.reduce((n, r) => n + r.lanes * (laneH + laneGap) + 2 * rowPad + 4, 0) + 4
  const svg = s('svg', { class: 'gantt', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `task timeline of job ${t.jobId}` })

  for (const tick of ticks(endMs - startMs, plotW)) {
    const tx = x(startMs + tick)
    svg.append(s('line', { class: 'grid', x1: tx, x2: tx, y1: axisH - 4, y2: height }))
    svg.append(s('text', { x: tx + 3, y: 13 }, tick === 0 ? '0' : duration(tick)))
  }
  for (const row of rows) {
    const rowH = row.lanes * (laneH + laneGap) + 2 * rowPad
    const status = row.peer === t.coordinator && statusOf.get(row.peer) === undefined ? 'alive' : (statusOf.get(row.peer) ?? 'left')
    const g = s('g', { class: 'row', dataset: { peer: row.peer } })
    g.append(s('rect', { class: `row-bg s-${status}`, x: 0, y, width, height: rowH, rx: 4 }))
    g.append(s('text', { class: `peer-label s-${status}`, x: 8, y: y + rowPad + 11 }, `${nameOf.has(row.peer) ? `${nameOf.get(row.peer)} ` : ''}${shortId(row.peer)}${row.peer === state.self ? ' (this)' : ''}${row.peer === t.coordinator ? ' ★' : ''}`))
    if (status !== 'alive') g.append(s('text', { class: `peer-label s-${status}`, x: 8, y: y + rowPad + 24 }, status))
    for (const { a, lane, end } of row.placed) {
      const bx = x(a.startMs)
      const bw = Math.max(2, x(end) - bx - 1) // a hair of space between back-to-back attempts
      const by = y + rowPad + lane * (laneH + laneGap)
      const classes = ['bar', `o-${a.outcome}`]
      if (a.backup) classes.push('backup')
      const retry = a.attempt > 1 && !a.backup
      if (retry) classes.push('retry')
      const what = a.backup ? 'backup copy' : retry ? `attempt ${a.attempt} (retry)` : 'attempt 1'
      g.append(s('rect', { class: classes.join(' '), x: bx.toFixed(1), y: by, width: bw.toFixed(1), height: laneH, rx: 2, dataset: { task: String(a.task), attempt: String(a.attempt), outcome: a.outcome, backup: String(a.backup), peer: a.peer } },
        s('title', {}, `task ${a.task}${a.group ? ` and ${a.group - 1} more in one group` : ''} · ${what} · ${a.outcome} · ${duration(end - a.startMs)} on ${shortId(a.peer)}${a.error ? `\n${a.error}` : ''}`)))
      if (bw >= 12 && (retry || a.backup || a.outcome === 'failed')) {
        g.append(s('text', { class: 'mark', x: (bx + 2).toFixed(1), y: by + 11 }, a.outcome === 'failed' ? '✕' : a.backup ? 'B' : '↻'))
      }
    }
    svg.append(g)
    y += rowH + 4
  }
  if (t.endedAtMs === undefined) {
    const nx = x(nowMs)
    svg.append(s('line', { class: 'now', x1: nx, x2: nx, y1: axisH - 4, y2: height }))
  }
  return svg
}

/** Tick offsets (ms from the start) at a round step, about one per 90 px. */
function ticks (spanMs, plotW) {
  const want = Math.max(2, Math.floor(plotW / 90))
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]
  const step = steps.find(st => spanMs / st <= want) ?? 3_600_000 * Math.ceil(spanMs / want / 3_600_000)
  const out = []
  for (let t = 0; t <= spanMs; t += step) out.push(t)
  return out
}

// ---- start ----

const fromHash = /#job=([^&]+)/.exec(location.hash)
if (fromHash) {
  state.selected = decodeURIComponent(fromHash[1])
  state.follow = false
}
window.addEventListener('resize', () => renderTimeline())
connect()
