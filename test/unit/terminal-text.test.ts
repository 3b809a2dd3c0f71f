import { describe, expect, it } from 'vitest'
import { formatStatus } from '../../src/node/cli/cmd-status.js'
import { terminalSafe } from '../../src/node/cli/terminal-text.js'
import { renderTop } from '../../src/node/cli/top-view.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'

// Text from the mesh on its way to a terminal: every control character shown as \uXXXX.

const table: Array<[string, string, string]> = [
  ['plain text', 'primes.mjs', 'primes.mjs'],
  ['non-ASCII letters and symbols', 'größe → 数.mjs ✓', 'größe → 数.mjs ✓'],
  ['ESC (a colour or cursor sequence)', 'a\x1b[31mred', 'a\\u001b[31mred'],
  ['an OSC window title ended by BEL', '\x1b]0;owned\x07x', '\\u001b]0;owned\\u0007x'],
  ['NUL', 'a\x00b', 'a\\u0000b'],
  ['CR (overwrites the line)', 'ok\rFAIL', 'ok\\u000dFAIL'],
  ['LF and TAB in a table cell', 'a\nb\tc', 'a\\u000ab\\u0009c'],
  ['backspace', 'abc\b\b', 'abc\\u0008\\u0008'],
  ['DEL', 'a\x7fb', 'a\\u007fb'],
  ['C1 CSI (U+009B)', 'a\u009b2Jb', 'a\\u009b2Jb'],
  ['C1 NEL and the end of C1', '\u0080\u0085\u009f', '\\u0080\\u0085\\u009f'],
  ['U+00A0 (no-break space, not a control)', 'a\u00a0b', 'a\u00a0b'],
  ['bidi override RLO and PDF', 'file\u202egnp.exe\u202c', 'file\\u202egnp.exe\\u202c'],
  ['bidi embeddings LRE RLE LRO', '\u202a\u202b\u202d', '\\u202a\\u202b\\u202d'],
  ['bidi isolates LRI RLI FSI PDI', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
  ['LRM, RLM and the Arabic letter mark', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
  ['line and paragraph separators', '\u2028\u2029', '\\u2028\\u2029'],
  ['zero-width joiner (emoji sequences) left alone', '👩\u200d💻', '👩\u200d💻'],
  ['empty', '', ''],
]

describe('terminalSafe', () => {
  for (const [what, input, expected] of table) {
    it(what, () => { expect(terminalSafe(input)).toBe(expected) })
  }

  it('keeps newlines and tabs of multi-line texts when asked, escaping the rest', () => {
    expect(terminalSafe('Error: boom\n    at map (job.mjs:3)\tx\r\x1b[2J', { keepNewlines: true })).toBe('Error: boom\n    at map (job.mjs:3)\tx\\u000d\\u001b[2J')
  })

  it('keeps JSON valid and equal in value', () => {
    const value = { s: 'a\u007f\u009b\u202eb', n: [1, 'x\u2066'] }
    const out = terminalSafe(JSON.stringify(value, null, 2), { keepNewlines: true })
    expect(out).not.toMatch(/[\u007f-\u009f\u202e\u2066]/)
    expect(JSON.parse(out)).toEqual(value)
  })

  it('leaves no control character in anything it returns', () => {
    let all = ''
    for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c)
    // eslint-disable-next-line no-control-regex
    expect(terminalSafe(all)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
  })
})

describe('the terminal views escape what the mesh sends', () => {
  const evil = 'x\x1b]0;owned\x07\u202e.mjs'
  const job: JobRecord = {
    jobId: 'jabc', kind: 'function', moduleName: evil, state: 'running', coordinator: 'p1', term: 1, submitter: 'p1',
    priority: 'normal', tasks: 4, done: 1, inFlight: 1, failures: 0, tasksByPeer: {}, submittedAtMs: 0,
  }

  it('top: the module name and the error line', () => {
    const lines = renderTop({ apiUrl: 'http://127.0.0.1:1', jobs: [job], error: 'GET /jobs failed: \x1b[2J', nowMs: 1000 }, { columns: 300, rows: 50, colour: false, interactive: false })
    const text = lines.join('\n')
    expect(text).not.toMatch(/[\x07\x1b\u202e]/)
    expect(text).toContain('x\\u001b]0;owned\\u0007\\u202e.mjs')
    expect(text).toContain('\\u001b[2J')
  })

  it('status: peer ids and statuses', () => {
    const peer = { peerId: 'p\x1b[2J', status: 'alive\x1b[5m', cpuLoad: 0, ownerCpuLoad: 0, memFree: 1, memTotal: 2, diskFree: 1, slotsFree: 1, slotsTotal: 1, runningTasks: 0, accepting: true }
    const out = formatStatus({ self: 'p', peers: [peer as never] })
    expect(out).not.toContain('\x1b')
    expect(out).toContain('p\\u001b[2J')
    expect(out).toContain('alive\\u001b[5m')
  })
})
