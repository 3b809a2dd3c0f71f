import { describe, expect, it } from 'vitest'
import { DEFAULT_LOG_LIMITS, LogCapture } from '../../src/node/executor/log-capture.js'
import { JobLogs, LOG_LINE_CHARS_MAX, TASK_LOG_CHARS_MAX, TASK_LOG_LINES_MAX, TaskLogsSchema } from '../../src/jobs/task-logs.js'
import { parseChildMessage } from '../../src/node/executor/child-messages.js'

// Task output: captured per task in the executor (bounded), kept per job on the coordinator (bounded).

describe('LogCapture', () => {
  it('bounds a task as the wire schema does', () => {
    expect(DEFAULT_LOG_LIMITS).toEqual({ linesMax: TASK_LOG_LINES_MAX, charsMax: TASK_LOG_CHARS_MAX, lineCharsMax: LOG_LINE_CHARS_MAX })
  })

  it('splits writes into lines per stream, partial lines joined, ended at the task end', () => {
    const c = new LogCapture()
    c.begin(3)
    c.write(1, 'hello ', 10)
    c.write(2, 'oops\n', 11)
    c.write(1, 'world\nsecond\r\nlast', 12)
    expect(c.end(13)).toEqual({ lines: [[3, 2, 11, 'oops'], [3, 1, 12, 'hello world'], [3, 1, 12, 'second'], [3, 1, 13, 'last']] })
    expect(c.capturing).toBe(false)
  })

  it('returns nothing for a task that wrote nothing, and ignores writes outside a task', () => {
    const c = new LogCapture()
    c.write(1, 'before\n', 1)
    c.begin(0)
    expect(c.end(2)).toBeUndefined()
  })

  it('keeps a group task index per line', () => {
    const c = new LogCapture()
    c.begin(4)
    c.write(1, 'a\nunfinished', 1)
    c.setTask(5, 2)
    c.write(1, 'b\n', 3)
    expect(c.end(4)?.lines).toEqual([[4, 1, 1, 'a'], [4, 1, 2, 'unfinished'], [5, 1, 3, 'b']])
  })

  it('keeps at most linesMax lines and counts the rest', () => {
    const c = new LogCapture({ linesMax: 3, charsMax: 1000, lineCharsMax: 100 })
    c.begin(0)
    for (let i = 0; i < 10; i++) c.write(1, `line ${i}\n`, i)
    const out = c.end(10)
    expect(out?.lines.map(l => l[3])).toEqual(['line 0', 'line 1', 'line 2'])
    expect(out?.dropped).toEqual([7, 7 * 'line 0\n'.length])
  })

  it('bounds characters, cuts long lines, and counts a huge write without keeping it', () => {
    const c = new LogCapture()
    c.begin(1)
    c.write(1, 'x'.repeat(10_000) + '\n', 1)
    const huge = 'y'.repeat(99) + '\n'
    c.write(2, huge.repeat(100_000), 2)
    c.write(2, 'tail without newline', 3)
    const out = c.end(4)!
    expect(out.lines[0]![3]).toHaveLength(4097)
    expect(out.lines.reduce((n, l) => n + l[3].length + 1, 0)).toBeLessThanOrEqual(TASK_LOG_CHARS_MAX)
    expect(out.lines.length).toBeLessThanOrEqual(TASK_LOG_LINES_MAX)
    const [lines, chars] = out.dropped!
    expect(lines + out.lines.length).toBe(1 + 100_000 + 1)
    expect(chars).toBeGreaterThan(99 * 99_000)
    expect(TaskLogsSchema.safeParse(out).success).toBe(true)
  })

  it('starts afresh for each task', () => {
    const c = new LogCapture({ linesMax: 1, charsMax: 100, lineCharsMax: 100 })
    c.begin(0)
    c.write(1, 'a\nb\nc', 1)
    expect(c.end(2)?.dropped).toEqual([2, 3])
    c.begin(1)
    c.write(1, 'd\n', 3)
    expect(c.end(4)).toEqual({ lines: [[1, 1, 3, 'd']] })
  })
})

describe('the executor channel refuses bad logs', () => {
  const done = (logs: unknown): unknown => ({ t: 'done', results: [['a1', '1', 1]], logs })
  it('takes a task\'s bounded logs, and a message without logs', () => {
    expect(parseChildMessage(done([['a1', { lines: [[0, 1, 5, 'hi']] }]])).ok).toBe(true)
    expect(parseChildMessage({ t: 'done', results: [['a1', '1', 1]] }).ok).toBe(true)
  })
  it.each([
    ['too many lines', [['a1', { lines: Array.from({ length: TASK_LOG_LINES_MAX + 1 }, () => [0, 1, 5, 'x']) }]]],
    ['too many characters', [['a1', { lines: Array.from({ length: 100 }, () => [0, 1, 5, 'x'.repeat(4000)]) }]]],
    ['a line too long', [['a1', { lines: [[0, 1, 5, 'x'.repeat(5000)]] }]]],
    ['a bad stream', [['a1', { lines: [[0, 3, 5, 'x']] }]]],
    ['a negative task', [['a1', { lines: [[-1, 1, 5, 'x']] }]]],
    ['text not a string', [['a1', { lines: [[0, 1, 5, { toString: 1 }]] }]]],
    ['an extra field', [['a1', { lines: [], extra: 1 }]]],
    ['not a list', { a1: { lines: [] } }],
  ])('refuses %s', (_what, logs) => {
    const parsed = parseChildMessage(done(logs))
    expect(parsed.ok).toBe(false)
  })
})

describe('JobLogs', () => {
  const from = { task: 2, attempt: 1, node: 'peerA' } as const
  it('numbers lines, labels split and reduce, pages with after', () => {
    const logs = new JobLogs()
    expect(logs.read('j1', 0)).toBeUndefined()
    logs.add('j1', { task: 'split', attempt: 1, node: 'peerC' }, { lines: [[0, 1, 1, 'splitting']] })
    logs.add('j1', from, { lines: [[2, 1, 2, 'map 2'], [3, 2, 3, 'map 3 err']] })
    logs.add('j1', { task: 'reduce', attempt: 1, node: 'peerC' }, { lines: [[0, 1, 4, 'reduced']] })
    const page = logs.read('j1', 0)!
    expect(page.lines.map(l => [l.seq, l.task, l.stream, l.text])).toEqual([[1, 'split', 'stdout', 'splitting'], [2, 2, 'stdout', 'map 2'], [3, 3, 'stderr', 'map 3 err'], [4, 'reduce', 'stdout', 'reduced']])
    expect(page.next).toBe(4)
    expect(page.dropped).toBe(0)
    expect(logs.read('j1', 2)!.lines.map(l => l.seq)).toEqual([3, 4])
    expect(logs.read('j1', 4)).toEqual({ lines: [], next: 4, dropped: 0 })
    expect(logs.read('j1', 1, 2)!.lines.map(l => l.seq)).toEqual([2, 3])
  })

  it('adds a marker line for a task\'s dropped output', () => {
    const logs = new JobLogs()
    logs.add('j1', from, { lines: [[2, 1, 2, 'kept']], dropped: [5, 50] })
    const lines = logs.read('j1', 0)!.lines
    expect(lines).toHaveLength(2)
    expect(lines[1]).toMatchObject({ task: 2, stream: 'stderr', marker: true })
    expect(lines[1]!.text).toMatch(/5 more lines \(50 characters\)/)
  })

  it('keeps the newest lines of a job, counting the dropped ones', () => {
    const logs = new JobLogs({ linesMax: 5, charsMax: 1000 })
    for (let i = 0; i < 3000; i++) logs.add('j1', from, { lines: [[2, 1, i, `l${i}`]] })
    const page = logs.read('j1', 0)!
    expect(page.lines.map(l => l.text)).toEqual(['l2995', 'l2996', 'l2997', 'l2998', 'l2999'])
    expect(page.dropped).toBe(2995)
    expect(logs.read('j1', 2998)!.lines.map(l => l.seq)).toEqual([2999, 3000])
    const byChars = new JobLogs({ linesMax: 100, charsMax: 10 })
    byChars.add('j1', from, { lines: [[2, 1, 0, 'aaaa'], [2, 1, 0, 'bbbb'], [2, 1, 0, 'cccc']] })
    expect(byChars.read('j1', 0)!.lines.map(l => l.text)).toEqual(['bbbb', 'cccc'])
  })

  it('keeps the newest jobs and forgets those not retained', () => {
    const logs = new JobLogs({ jobsMax: 2 })
    logs.open('a'); logs.open('b'); logs.open('c')
    expect([logs.has('a'), logs.has('b'), logs.has('c')]).toEqual([false, true, true])
    logs.retain(jobId => jobId !== 'b')
    expect(logs.has('b')).toBe(false)
    expect(logs.read('c', 0)).toEqual({ lines: [], next: 0, dropped: 0 })
  })
})

describe('task output on the wire', () => {
  it('travels in task.results batches with the results it belongs to, and without', async () => {
    const { decodeRpc } = await import('../../src/jobs/wire.js')
    const { TaskBatcher, unbatch } = await import('../../src/node/net/rpc/task-batches.js')
    const got: unknown[] = []
    const batcher = new TaskBatcher((_peer, bytes) => {
      const d = decodeRpc(bytes)
      if (!d.ok) throw new Error(d.reason)
      got.push(...unbatch(d.message))
    }, () => {})
    const logs = { lines: [[1, 2, 5, 'stderr line']] as Array<[number, 1 | 2, number, string]>, dropped: [3, 30] as [number, number] }
    batcher.add('P', { t: 'task.ok', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', value: 1, ms: 1 })
    batcher.add('P', { t: 'task.ok', jobId: 'j1', taskIndex: 1, attemptId: 'j1:1:1', value: 2, ms: 1, logs })
    batcher.add('P', { t: 'task.failed', jobId: 'j1', taskIndex: 2, attemptId: 'j1:2:1', kind: 'threw', error: 'no', logs: { lines: [[2, 2, 6, 'why']] } })
    batcher.flush()
    const plain = JSON.parse(JSON.stringify(got)) as Array<Record<string, unknown>>
    expect(plain.map(m => m.logs)).toEqual([undefined, logs, { lines: [[2, 2, 6, 'why']] }])
  })

  it('is refused when over a task\'s bounds', async () => {
    const { decodeRpc } = await import('../../src/jobs/wire.js')
    const bad = { t: 'task.ok', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', value: 1, ms: 1, logs: { lines: Array.from({ length: TASK_LOG_LINES_MAX + 1 }, () => [0, 1, 1, 'x']) } }
    expect(decodeRpc(Buffer.from(JSON.stringify(bad))).ok).toBe(false)
    const page = { t: 'logs.found', jobId: 'j1', after: 0, page: { lines: [{ seq: 1, task: 'split', attempt: 1, node: 'P', stream: 'stdout', atMs: 1, text: 'x', extra: 1 }], next: 1, dropped: 0 } }
    expect(decodeRpc(Buffer.from(JSON.stringify(page))).ok).toBe(false)
  })
})
