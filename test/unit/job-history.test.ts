import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { JobHistory } from '../../src/node/daemon/job-history.js'
import { JobRegistry } from '../../src/node/daemon/job-registry.js'
import type { Logger } from '../../src/node/host/logger.js'

const warnings: unknown[] = []
const log = { info () {}, debug () {}, error () {}, warn (o: unknown) { warnings.push(o) } } as unknown as Logger

const record = (jobId: string, state: JobRecord['state'], extra: Partial<JobRecord> = {}): JobRecord => ({
  jobId, kind: 'function', moduleName: 'm.mjs', state, coordinator: 'c', term: 1, submitter: 's', priority: 'normal',
  tasks: 4, done: 4, inFlight: 0, failures: 0, tasksByPeer: { c: 4 }, submittedAtMs: 1000, finishedAtMs: 2000, wallMs: 1000, ...extra,
})

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshwork-history-'))
  file = join(dir, 'jobs-history.jsonl')
  warnings.length = 0
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** The file's job lines (the header left out). */
const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(l => l !== '').slice(1)

describe('job history', () => {
  it('keeps final records, small results with them, and a new instance reads them back', () => {
    const h = new JobHistory({ file, jobsMax: 100, resultBytesMax: 1000, log })
    expect(h.record(record('j1', 'running'))).toBe(false)
    expect(h.record(record('j1', 'done', { result: { top: [['the', 3]] } }))).toBe(true)
    expect(h.record(record('j2', 'failed', { error: 'Task 3 threw' }))).toBe(true)
    expect(h.record(record('j3', 'done', { result: 'x'.repeat(2000) }))).toBe(true)
    const again = new JobHistory({ file, jobsMax: 100, resultBytesMax: 1000, log })
    expect(again.list().map(r => [r.jobId, r.state])).toEqual([['j1', 'done'], ['j2', 'failed'], ['j3', 'done']])
    expect(again.list()[0]).not.toHaveProperty('result') // listings carry no results
    expect(again.get('j1')?.record.result).toEqual({ top: [['the', 3]] })
    expect(again.get('j2')?.record.error).toBe('Task 3 threw')
    // Too large to keep: the record says how large it was.
    expect(again.get('j3')).toEqual({ record: expect.not.objectContaining({ result: expect.anything() }), resultOmittedBytes: 2002 })
    expect(again.skipped).toBe(0)
    expect(JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!)).toEqual({ meshwork: 'job-history', v: 1 })
  })

  it('writes a record once however often it arrives; a done job is never turned into a cancelled one', () => {
    const h = new JobHistory({ file, jobsMax: 100, log })
    expect(h.record(record('j1', 'cancelled'))).toBe(true)
    expect(h.record(record('j1', 'cancelled'))).toBe(false)
    expect(h.record(record('j1', 'done'))).toBe(true) // a result committed meanwhile stands over a cancel
    expect(h.record(record('j1', 'cancelled'))).toBe(false)
    expect(lines()).toHaveLength(2)
    expect(new JobHistory({ file, jobsMax: 100, log }).get('j1')?.record.state).toBe('done')
  })

  it('skips and counts lines that are not job records (a torn last line, edits by hand), keeping the rest', () => {
    const h = new JobHistory({ file, jobsMax: 100, log })
    h.record(record('j1', 'done'))
    appendFileSync(file, 'not json\n{"record":{"jobId":"j2","state":"done"}}\n' + JSON.stringify({ record: record('j3', 'running') }) + '\n')
    h.record(record('j4', 'done'))
    appendFileSync(file, JSON.stringify({ record: record('j5', 'done') }).slice(0, 40)) // the crash mid-write
    const again = new JobHistory({ file, jobsMax: 100, log })
    expect(again.list().map(r => r.jobId)).toEqual(['j1', 'j4'])
    expect(again.skipped).toBe(4)
    expect(warnings).toEqual([expect.objectContaining({ skipped: 4 })])
    // Read once, the file was rewritten without them.
    expect(new JobHistory({ file, jobsMax: 100, log }).skipped).toBe(0)
  })

  it('a torn last line does not swallow the line appended after the restart', () => {
    new JobHistory({ file, jobsMax: 100, log }).record(record('j1', 'done'))
    appendFileSync(file, '{"record":{"jobId":"j2","sta')
    new JobHistory({ file, jobsMax: 100, log }).record(record('j3', 'done'))
    expect(new JobHistory({ file, jobsMax: 100, log }).list().map(r => r.jobId)).toEqual(['j1', 'j3'])
  })

  it('keeps at most jobsMax jobs, the latest finished, and the file at most twice that many lines', () => {
    const h = new JobHistory({ file, jobsMax: 3, log })
    for (let i = 0; i < 20; i++) {
      h.record(record(`j${i}`, 'done'))
      expect(lines().length).toBeLessThanOrEqual(6)
    }
    expect(h.list().map(r => r.jobId)).toEqual(['j17', 'j18', 'j19'])
    expect(new JobHistory({ file, jobsMax: 3, log }).list().map(r => r.jobId)).toEqual(['j17', 'j18', 'j19'])
    // A lower limit at the next start drops the oldest.
    expect(new JobHistory({ file, jobsMax: 1, log }).list().map(r => r.jobId)).toEqual(['j19'])
    expect(lines()).toHaveLength(1)
  })

  it('keeps at most bytesMax bytes of lines, the oldest going first', () => {
    const h = new JobHistory({ file, jobsMax: 100, bytesMax: 4000, log })
    for (let i = 0; i < 20; i++) h.record(record(`j${i}`, 'done', { result: 'y'.repeat(500) }))
    const kept = h.list().map(r => r.jobId)
    expect(kept.length).toBeGreaterThan(2)
    expect(kept.length).toBeLessThan(8)
    expect(kept.at(-1)).toBe('j19')
    expect(readFileSync(file).length).toBeLessThanOrEqual(2 * 4000 + 100)
    expect(new JobHistory({ file, jobsMax: 100, bytesMax: 4000, log }).list().map(r => r.jobId)).toEqual(kept)
  })

  it('a file that is not a job history is moved aside and named, and a new history starts', () => {
    writeFileSync(file, 'PK\u0003\u0004 someone else\'s file\n')
    const h = new JobHistory({ file, jobsMax: 100, log, wallMs: () => 1234 })
    expect(h.size).toBe(0)
    expect(readFileSync(`${file}.unreadable-1234`, 'utf8')).toMatch(/someone else/)
    expect(warnings).toEqual([expect.objectContaining({ movedTo: `${file}.unreadable-1234` })])
    h.record(record('j1', 'done'))
    expect(new JobHistory({ file, jobsMax: 100, log }).list().map(r => r.jobId)).toEqual(['j1'])
    // Another version's history is not ours to read either.
    writeFileSync(file, JSON.stringify({ meshwork: 'job-history', v: 2 }) + '\n')
    expect(new JobHistory({ file, jobsMax: 100, log, wallMs: () => 5678 }).size).toBe(0)
    expect(readdirSync(dir).filter(f => f.includes('unreadable')).sort()).toEqual(['jobs-history.jsonl.unreadable-1234', 'jobs-history.jsonl.unreadable-5678'])
  })

  it('jobsMax 0 keeps nothing and writes no file', () => {
    const h = new JobHistory({ file, jobsMax: 0, log })
    expect(h.record(record('j1', 'done'))).toBe(false)
    expect(existsSync(file)).toBe(false)
  })

  it('a history that cannot be written costs the history only, said once', () => {
    const h = new JobHistory({ file: join(dir, 'no-such-dir', 'h.jsonl'), jobsMax: 100, log })
    expect(() => { h.record(record('j1', 'done')); h.record(record('j2', 'done')) }).not.toThrow()
    expect(warnings).toHaveLength(1)
    expect(h.list().map(r => r.jobId)).toEqual(['j1', 'j2'])
  })
})

describe('the registry hands final records to the history', () => {
  it('onFinal sees every final record taken, first only for the first', () => {
    const seen: Array<[string, boolean]> = []
    const r = new JobRegistry({ retentionMs: 60_000, recordsMax: 100, onFinal: (rec, first) => seen.push([rec.state, first]) })
    r.upsert(record('j1', 'running'), 0)
    r.upsert(record('j1', 'cancelled'), 1)
    r.upsert(record('j1', 'done'), 2)
    r.upsert(record('j1', 'running'), 3) // refused: not taken
    expect(seen).toEqual([['cancelled', true], ['done', false]])
  })
})
