import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import type { PeerRow, StatusView } from '../../src/node/cli/status-view.js'
import { clip, renderTop } from '../../src/node/cli/top-view.js'

const peer = (id: string, status: PeerRow['status'], extra: Partial<PeerRow> = {}): PeerRow => ({
  peerId: id, addrs: [], incarnation: 1, version: 1, status, cpuCores: 2, cpuLoad: 0.5, memFree: 1024, memTotal: 4096, diskFree: 1e9, ioLoad: 0,
  slotsTotal: 2, slotsFree: 1, runningTasks: 1, uptimeMs: 1000, softwareVersion: '0.1.0', ownerCpuLoad: 0, accepting: true, labels: {}, tools: [],
  os: 'linux', arch: 'x64', nodeVersion: 'v20', bootId: 'b', ...extra,
})
const job = (id: string, state: JobRecord['state'], done: number, tasks: number, coordinator: string, extra: Partial<JobRecord> = {}): JobRecord => ({
  jobId: id, kind: 'function', moduleName: 'primes.mjs', state, coordinator, term: 1, submitter: coordinator, priority: 'normal', tasks, done,
  inFlight: 0, failures: 0, tasksByPeer: {}, submittedAtMs: 1_000, ...extra,
})
const status: StatusView = { self: '12D3KooWAAAAAAAAAAself', peers: [peer('12D3KooWAAAAAAAAAAself', 'alive'), peer('12D3KooWBBBBBBBBBBdead', 'dead')] }
const layout = { columns: 160, rows: 40, colour: false, interactive: true }

describe('the top screen', () => {
  it('shows nodes with status and load, and jobs with progress, unfinished first', () => {
    const lines = renderTop({
      apiUrl: 'http://127.0.0.1:7070', status, nowMs: 61_000,
      jobs: [job('jold', 'done', 4, 4, status.self, { finishedAtMs: 5000, wallMs: 4000 }), job('jrun', 'running', 3, 12, status.self)],
    }, layout)
    const text = lines.join('\n')
    expect(lines[0]).toContain('1/2 alive · 1 job running · 00:01:01 UTC')
    expect(lines[0]).toContain('q: quit')
    expect(lines.find(l => l.startsWith('…AAAAself'))).toMatch(/\* +- +alive +█████░░░░░  50% +75% +1\/2 +1 +1/)
    expect(lines.find(l => l.startsWith('…BBBBdead'))).toMatch(/- +dead +— +— +— +— +0/)
    const jrun = lines.findIndex(l => l.startsWith('jrun'))
    const jold = lines.findIndex(l => l.startsWith('jold'))
    expect(jrun).toBeGreaterThan(0)
    expect(jold).toBeGreaterThan(jrun)
    expect(lines[jrun]).toContain('25%')
    expect(lines[jrun]).toContain('60.0s')
    expect(lines[jold]).toContain('100%')
    expect(text).not.toContain('\x1b[')
  })

  it('keeps the last data with the error while the node is unreachable, and fits the terminal', () => {
    const many = Array.from({ length: 50 }, (_, i) => job(`j${i}`, 'running', 1, 2, status.self, { submittedAtMs: i }))
    const lines = renderTop({ apiUrl: 'http://x', status, jobs: many, error: 'Cannot reach the node', nowMs: 0 }, { ...layout, rows: 20, columns: 50 })
    expect(lines.length).toBeLessThanOrEqual(20)
    expect(lines.every(l => l.length <= 50)).toBe(true)
    expect(lines[1]).toBe('! Cannot reach the node — retrying (showing the la')
    expect(lines.at(-1)).toMatch(/… \d+ more jobs/)
  })

  it('colours only when asked, and clips without breaking colour codes', () => {
    const lines = renderTop({ apiUrl: 'http://x', status, jobs: [], nowMs: 0 }, { ...layout, colour: true })
    expect(lines.join('\n')).toContain('\x1b[32malive\x1b[0m')
    expect(clip('\x1b[32mabcdef\x1b[0m', 3)).toBe('\x1b[32mabc\x1b[0m')
    expect(clip('abc', 10)).toBe('abc')
  })
})
