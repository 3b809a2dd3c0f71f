import { describe, expect, it } from 'vitest'
import { planSplits, recordSpan, type InputSource, type InputSplit } from '../../src/jobs/input-source.js'

const file = (size: number) => ({ blob: 'a'.repeat(64), size, name: 'f.txt' })
const source = (sizes: number[], records?: InputSource['records']): InputSource => ({ files: sizes.map(file), holders: ['p'], ...(records !== undefined ? { records } : {}) })

/** The records of every split, read with recordSpan over the whole file as the window. */
function cut (text: string, parts: number, delimiter = '\n', minSplitBytes = 1): string[] {
  const bytes = Buffer.from(text)
  const splits = planSplits(source([bytes.length]), parts, minSplitBytes)
  return splits.map(s => {
    const span = recordSpan(s, bytes, 0, Buffer.from(delimiter))
    if (!('from' in span)) throw new Error('whole file given, more asked')
    return bytes.subarray(span.from, span.to).toString()
  })
}

describe('planSplits', () => {
  it.each([
    // [sizes, parts, min split bytes, expected [start, end] per split]
    [[100], 4, 1, [[0, 25], [25, 50], [50, 75], [75, 100]]],
    [[10], 4, 5, [[0, 5], [5, 10]]],
    [[0], 8, 1, [[0, 0]]],
    [[7, 0, 3], 2, 1, [[0, 7], [0, 0], [0, 3]]],
  ] as Array<[number[], number, number, Array<[number, number]>]>)('%j in %i parts (min %i bytes)', (sizes, parts, min, expected) => {
    expect(planSplits(source(sizes), parts, min).map(s => [s.start, s.end])).toEqual(expected)
  })

  it('keeps a file whole when records are files', () => {
    expect(planSplits(source([100], { file: true }), 4, 1).map(s => [s.start, s.end])).toEqual([[0, 100]])
  })
})

describe('recordSpan', () => {
  const texts = [
    'a\nbb\nccc\ndddd\neeeee\n',
    'no newline at all',
    'x\n\n\n\ny\n',
    'last line has no newline\nend',
    'ünïcödé\nлиния\n行\n',
    '\n\n\n',
  ]
  for (const text of texts) {
    for (const parts of [1, 2, 3, 5, 8, 40]) {
      it(`every line exactly once: ${JSON.stringify(text.slice(0, 12))} in ${parts}`, () => {
        const pieces = cut(text, parts)
        expect(pieces.join('')).toBe(text)
        // each piece is whole lines: it ends at a newline, or at the file's end
        let at = 0
        for (const p of pieces) {
          at += p.length
          if (p !== '' && at < text.length) expect(p.endsWith('\n')).toBe(true)
        }
      })
    }
  }

  it('never cuts inside a multi-byte character (UTF-8 never has 0x0a inside one)', () => {
    const text = 'αβγ\n'.repeat(50)
    for (const p of cut(text, 17)) expect(Buffer.from(p).toString('utf8')).toBe(p)
  })

  it('cuts at a multi-byte delimiter', () => {
    const text = 'rec1\r\nrecord2\r\nr3\r\n'
    const pieces = cut(text, 6, '\r\n')
    expect(pieces.join('')).toBe(text)
    expect(pieces.filter(p => p !== '')).toEqual(['rec1\r\n', 'record2\r\n', 'r3\r\n'])
  })

  it('asks for more bytes while the record runs past the window', () => {
    const bytes = Buffer.from('aaaa\nbbbbbbbbbbbb\ncc\n')
    const split: InputSplit = { file: file(bytes.length), start: 0, end: 8 }
    expect(recordSpan(split, bytes.subarray(0, 10), 0, Buffer.from('\n'))).toEqual({ more: 11 })
    expect(recordSpan(split, bytes, 0, Buffer.from('\n'))).toEqual({ from: 0, to: 18 })
    const second: InputSplit = { file: file(bytes.length), start: 8, end: 16 }
    expect(recordSpan(second, bytes.subarray(0, 12), 0, Buffer.from('\n'))).toEqual({ more: 16 })
    expect(recordSpan(second, bytes.subarray(7), 7, Buffer.from('\n'))).toEqual({ from: 16, to: 16 })
  })

  it('refuses a window that starts after the bytes it must see', () => {
    const split: InputSplit = { file: file(100), start: 50, end: 60 }
    expect(() => recordSpan(split, Buffer.alloc(10), 50, Buffer.from('\n'))).toThrow(/after 49/)
  })
})
