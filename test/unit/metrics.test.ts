import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/node/api/api-server.js'
import { NodeMetrics, registerMetricsRoute, type MetricsSource } from '../../src/node/api/metrics.js'
import { createLogger } from '../../src/node/host/logger.js'

const source = (over: Partial<MetricsSource> = {}): MetricsSource => ({
  selfId: '12D3KooWself',
  version: '0.1.0',
  uptimeMs: () => 12_500,
  peers: () => [{ status: 'alive' }, { status: 'alive' }, { status: 'dead' }],
  self: () => ({ slotsTotal: 4, slotsFree: 1, runningTasks: 3, cpuLoad: 0.5, ownerCpuLoad: 0.125, memFree: 1024, memTotal: 4096, diskFree: 2048, accepting: true }),
  jobs: () => [{ state: 'running' }, { state: 'done' }, { state: 'done' }],
  historyJobs: () => 7,
  coordinating: () => 1,
  executors: () => ({ slotsBusy: 3, slotsReady: 4, spares: 2, queued: 5, started: 9, died: 1, killed: { timeout: 2, memory: 1 } }),
  tasksReturned: () => 2,
  rpcDropped: () => 1,
  ...over,
})

/** The value of one sample line, `name{labels} value`. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('node metrics', () => {
  it('reads the node at scrape time, every peer status and job state present', async () => {
    let running = 3
    const m = new NodeMetrics(source({ self: () => ({ slotsTotal: 4, slotsFree: 4 - running, runningTasks: running, cpuLoad: 0.5, ownerCpuLoad: 0.125, memFree: 1024, memTotal: 4096, diskFree: 2048, accepting: false, draining: true }) }))
    let text = await m.text()
    expect(sample(text, 'meshwork_node_info{peer_id="12D3KooWself",version="0.1.0"}')).toBe(1)
    expect(sample(text, 'meshwork_uptime_seconds')).toBe(12.5)
    expect(sample(text, 'meshwork_peers{status="alive"}')).toBe(2)
    expect(sample(text, 'meshwork_peers{status="dead"}')).toBe(1)
    expect(sample(text, 'meshwork_peers{status="suspect"}')).toBe(0)
    expect(sample(text, 'meshwork_tasks_running')).toBe(3)
    expect(sample(text, 'meshwork_slots_free')).toBe(1)
    expect(sample(text, 'meshwork_owner_cpu_load_ratio')).toBe(0.125)
    expect(sample(text, 'meshwork_accepting')).toBe(0)
    expect(sample(text, 'meshwork_draining')).toBe(1)
    expect(sample(text, 'meshwork_jobs{state="done"}')).toBe(2)
    expect(sample(text, 'meshwork_jobs{state="pending"}')).toBe(0)
    expect(sample(text, 'meshwork_jobs_history')).toBe(7)
    expect(sample(text, 'meshwork_executors{state="idle_kept"}')).toBe(2)
    expect(sample(text, 'meshwork_executor_starts_total')).toBe(9)
    expect(sample(text, 'meshwork_executor_crashes_total')).toBe(1)
    expect(sample(text, 'meshwork_executor_kills_total{reason="timeout"}')).toBe(2)
    expect(sample(text, 'meshwork_executor_kills_total{reason="protocol"}')).toBe(0)
    expect(sample(text, 'meshwork_worker_tasks_total{outcome="ok"}')).toBe(0)
    expect(sample(text, 'meshwork_worker_tasks_returned_total')).toBe(2)
    expect(sample(text, 'meshwork_rpc_dropped_total')).toBe(1)
    expect(sample(text, 'meshwork_jobs_finished_total{state="failed"}')).toBe(0)
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m)
    expect(text).toMatch(/^# TYPE meshwork_worker_tasks_total counter$/m)
    running = 1
    text = await m.text()
    expect(sample(text, 'meshwork_tasks_running')).toBe(1)
  })

  it('counts finished jobs, attempts by outcome with their durations, gossip drops and status changes', async () => {
    const m = new NodeMetrics(source())
    m.jobFinished('done', 800)
    m.jobFinished('done', 20_000)
    m.jobFinished('cancelled', undefined)
    m.attempt('ok', 2)
    m.attempt('ok', 40, 8) // a group of 8 tiny tasks in one executor call
    m.vectorReceived()
    m.attempt('timeout', 4000)
    m.gossipMessageDropped()
    m.peerStatusChanged('dead')
    const text = await m.text()
    expect(sample(text, 'meshwork_jobs_finished_total{state="done"}')).toBe(2)
    expect(sample(text, 'meshwork_jobs_finished_total{state="cancelled"}')).toBe(1)
    expect(sample(text, 'meshwork_job_wall_seconds_bucket{le="1",state="done"}')).toBe(1)
    expect(sample(text, 'meshwork_job_wall_seconds_count{state="done"}')).toBe(2)
    expect(sample(text, 'meshwork_job_wall_seconds_sum{state="done"}')).toBe(20.8)
    expect(sample(text, 'meshwork_worker_tasks_total{outcome="ok"}')).toBe(9)
    expect(sample(text, 'meshwork_worker_tasks_total{outcome="timeout"}')).toBe(1)
    expect(sample(text, 'meshwork_worker_attempt_duration_seconds_count{outcome="ok"}')).toBe(2)
    expect(sample(text, 'meshwork_gossip_vectors_received_total')).toBe(1)
    expect(sample(text, 'meshwork_worker_attempt_duration_seconds_bucket{le="0.005",outcome="ok"}')).toBe(1)
    expect(sample(text, 'meshwork_worker_attempt_duration_seconds_bucket{le="0.1",outcome="ok"}')).toBe(2)
    expect(sample(text, 'meshwork_worker_attempt_duration_seconds_sum{outcome="timeout"}')).toBe(4)
    expect(sample(text, 'meshwork_gossip_dropped_total')).toBe(1)
    expect(sample(text, 'meshwork_peer_status_changes_total{status="dead"}')).toBe(1)
  })

  it('keeps the outcome labels bounded', async () => {
    const m = new NodeMetrics(source())
    for (let i = 0; i < 100; i++) m.attempt(`kind${i}`, 1)
    const text = await m.text()
    // ok (always present), the first 64 kinds, and other for the rest.
    expect(text.split('\n').filter(l => l.startsWith('meshwork_worker_tasks_total{')).length).toBe(66)
    expect(sample(text, 'meshwork_worker_tasks_total{outcome="other"}')).toBe(36)
  })
})

describe('GET /metrics', () => {
  let api: ApiServer | undefined
  afterEach(async () => { await api?.close() })

  it('answers Prometheus text with the token, 401 without', async () => {
    api = new ApiServer({ port: 0, bodyBytesMax: 1024, log: createLogger('silent'), token: 'secret-token' })
    registerMetricsRoute(api, new NodeMetrics(source()))
    const url = await api.listen()
    const denied = await fetch(`${url}/metrics`)
    expect(denied.status).toBe(401)
    const res = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer secret-token' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(sample(await res.text(), 'meshwork_slots_total')).toBe(4)
  })
})
