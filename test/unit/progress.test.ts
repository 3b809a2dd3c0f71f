import { describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { progressLine, ProgressReporter } from '../../src/node/cli/progress.js'

// `submit`'s progress: a bar redrawn in place on a terminal, a plain line now and then elsewhere.

const record = (done: number): JobRecord => ({
  jobId: 'j1', kind: 'function', moduleName: 'm.mjs', state: 'running', coordinator: 'c', term: 1, submitter: 'c', priority: 'normal',
  tasks: 10, done, inFlight: 2, failures: 0, tasksByPeer: { '12D3KooWabcdefghij': done }, submittedAtMs: 0,
})

function fakeStream (isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, columns: 100, text: '', write (chunk: string) { s.text += chunk; return true } }
  return s as unknown as NodeJS.WriteStream & { text: string }
}

describe('progress', () => {
  it('draws a bar with counts, time, ETA and tasks per peer', () => {
    const line = progressLine(record(5), 2000, 10)
    expect(line).toBe('█████░░░░░ 5/10 tasks  2.0s  ETA 2.0s  […cdefghij:5]')
  })

  it('redraws one line in place on a terminal', () => {
    const tty = fakeStream(true)
    const r = new ProgressReporter(tty, Date.now())
    r.update(record(1))
    r.update(record(2))
    r.end()
    expect(tty.text.split('\r\x1b[2K')).toHaveLength(3)
    expect(tty.text.endsWith('\n')).toBe(true)
    expect(tty.text.split('\n')).toHaveLength(2)
  })

  it('prints plain lines, at most one per 2 s, when not a terminal', () => {
    const pipe = fakeStream(false)
    const r = new ProgressReporter(pipe, Date.now() - 5000)
    r.update(record(1))
    r.update(record(2)) // within the same 2 s: skipped
    r.end()
    expect(pipe.text).not.toContain('\x1b[')
    expect(pipe.text.trimEnd().split('\n')).toHaveLength(1)
    expect(pipe.text).toContain('1/10 tasks')
  })
})
