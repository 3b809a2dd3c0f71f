import { describe, expect, it } from 'vitest'
import { RawJson, jsonText } from '../../src/jobs/raw-json.js'
import { ATTACHED_FRAME, decodeRpc, encodeAttached, encodeRpc, type RpcMessage } from '../../src/jobs/wire.js'
import { decodeResultsFile, encodeResultsFile } from '../../src/node/executor/executor-protocol.js'

// Results travel as their JSON text: attachments of a binary frame, never parsed on the way;
// the reduce's executor parses each once. Malformed frames and files are refused, naming why.

const ok = (value: unknown): RpcMessage => ({ t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'j:0:1', value, ms: 1 })
const reason = (bytes: Uint8Array): string => { const r = decodeRpc(bytes); return r.ok ? 'accepted' : r.reason }

describe('attached frames', () => {
  it('carry a result as its text: the same bytes come out, unparsed, escaped nowhere', () => {
    const text = '{"wörd":1,"quote\\"d":[1,2,3]}'
    const bytes = encodeRpc(ok(new RawJson(text)))
    expect(bytes[0]).toBe(ATTACHED_FRAME)
    // The text is in the frame verbatim (a JSON string inside JSON would have escaped its quotes).
    expect(Buffer.from(bytes).includes(Buffer.from(text))).toBe(true)
    const back = decodeRpc(bytes)
    expect(back.ok && back.message.t === 'task.ok' && back.message.value).toEqual(new RawJson(text))
  })

  it('take plain values too, and a group\'s results each as its own attachment', () => {
    const m: RpcMessage = { t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'j:0:1', value: { a: 1 }, ms: 1, group: [[3, new RawJson('[3]')], [4, null]] }
    const back = decodeRpc(encodeRpc(m))
    expect(back).toEqual({ ok: true, message: { ...m, value: new RawJson('{"a":1}'), group: [[3, new RawJson('[3]')], [4, new RawJson('null')]] } })
    expect(jsonText(undefined)).toBe('null')
  })

  it('a message that carries no results travels as plain JSON', () => {
    const abort: RpcMessage = { t: 'task.abort', attemptId: 'j:0:1' }
    expect(Buffer.from(encodeRpc(abort)).toString()).toBe(JSON.stringify(abort))
  })

  const header = (value: unknown): string => JSON.stringify({ t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'a', value, ms: 1 })
  const table: Array<[string, () => Uint8Array, RegExp]> = [
    ['shorter than its lengths', () => Buffer.from([ATTACHED_FRAME, 0, 0]), /shorter than its lengths/],
    ['an attachment cut short', () => encodeAttached(header(0), ['12345']).subarray(0, -2), /cut short in attachment 0/],
    ['bytes after the attachments', () => Buffer.concat([encodeAttached(header(0), ['1']), Buffer.from('x')]), /bytes after its attachments/],
    ['a result naming no attachment', () => encodeAttached(header(1), ['1']), /names attachment 1 of 1/],
    ['a result that is no index', () => encodeAttached(header('x'), ['1']), /names attachment "x"/],
    ['an attachment no result names', () => encodeAttached(header(0), ['1', '2']), /no result of the message/],
    ['attachments on a message without results', () => encodeAttached(JSON.stringify({ t: 'task.abort', attemptId: 'a' }), ['1']), /carries no results/],
    ['a header that is not JSON', () => encodeAttached('{nope', []), /not JSON/],
  ]
  for (const [what, bytes, why] of table) it(`refuses ${what}`, () => expect(reason(bytes())).toMatch(why))

  it('two results naming one attachment are refused', () => {
    const m = JSON.stringify({ t: 'task.results', jobId: 'j', ok: [[0, 'a', 0, 1], [1, 'b', 0, 1]], failed: [] })
    expect(reason(encodeAttached(m, ['1']))).toMatch(/named already/)
  })
})

describe('the reduce\'s results file', () => {
  it('gives back each result parsed, in order', () => {
    const texts = ['{"a":1}', 'null', '"ünï"', '[1,2]']
    expect(decodeResultsFile(encodeResultsFile(texts))).toEqual([{ a: 1 }, null, 'ünï', [1, 2]])
    expect(decodeResultsFile(encodeResultsFile([]))).toEqual([])
  })

  it('a text that is not JSON fails naming it, and cannot splice itself into the others', () => {
    expect(() => decodeResultsFile(encodeResultsFile(['1', '2],[3']))).toThrow(/result 1 of the reduce's input is not JSON/)
  })

  it('a truncated or padded file is refused', () => {
    const bytes = encodeResultsFile(['{"a":1}'])
    expect(() => decodeResultsFile(bytes.subarray(0, -1))).toThrow(/cut short in result 0/)
    expect(() => decodeResultsFile(Buffer.concat([bytes, Buffer.from('!')]))).toThrow(/1 bytes after the last result/)
    expect(() => decodeResultsFile(Buffer.from([0, 0]))).toThrow(/shorter than its count/)
  })
})
