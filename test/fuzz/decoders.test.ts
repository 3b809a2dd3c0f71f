import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeGossip, encodeGossip, GossipMessageSchema } from '../../src/gossip/messages.js'
import { StateVectorSchema } from '../../src/gossip/state-vector.js'
import { JobRecordSchema, JobSpecSchema } from '../../src/jobs/job-spec.js'
import { decodeRpc, encodeRpc, RpcMessageSchema, type RpcMessage } from '../../src/jobs/wire.js'
import { SubmitRequestSchema } from '../../src/node/api/jobs-api.js'
import { encodeFrames, FrameDecoder, FrameTooLargeError } from '../../src/node/net/rpc/frames.js'
import { bearerToken, presentedToken, tokenMatches } from '../../src/security/api-token.js'
import { MeshKeyError, newMeshKey, readMeshKeyFile } from '../../src/security/mesh-key.js'
import { parseElectionSpec, InvalidElectionSpecError } from '../../src/election/strategy.js'
import { vector } from '../helpers/vectors.js'
import { DECODER_RUNS, FILE_RUNS } from './runs.js'

// Property-based fuzzing of every decoder that sees bytes or values from outside the process:
// random bytes, random JSON, and valid messages mutated (bytes flipped, cut, spliced; fields
// replaced by random JSON). A decoder never throws (except the frame decoder's one documented
// error), and whatever it accepts satisfies its schema.

const utf8 = new TextEncoder()
const json = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v))

/** Byte-level mutations of a valid encoding. */
function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert', 'delete')), { minLength: 1, maxLength: 6 }))
    .map(([bytes, edits]) => {
      let b = Array.from(bytes)
      for (const [pos, value, op] of edits) {
        const at = b.length === 0 ? 0 : pos % b.length
        if (op === 'flip' && b.length > 0) b[at] = value
        else if (op === 'cut') b = b.slice(0, at)
        else if (op === 'insert') b.splice(at, 0, value)
        else b.splice(at, 1)
      }
      return new Uint8Array(b)
    })
}

/** Replace one field (at any depth up to 2) of a valid object by random JSON, or delete it, or add one. */
function fieldMutated<T extends object> (valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), fc.nat(), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('replace', 'delete', 'add'))
    .map(([obj, i, j, value, op]) => {
      const copy = structuredClone(obj) as Record<string, unknown>
      const keys = Object.keys(copy)
      const key = keys[i % keys.length] as string
      const inner = copy[key]
      if (op === 'add') copy[`extra${j}`] = value
      else if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && j % 2 === 0) {
        const innerKeys = Object.keys(inner)
        const k = innerKeys[j % Math.max(1, innerKeys.length)]
        if (k !== undefined) {
          if (op === 'delete') delete (inner as Record<string, unknown>)[k]
          else (inner as Record<string, unknown>)[k] = value
        }
      } else if (op === 'delete') delete copy[key]
      else copy[key] = value
      return copy
    })
}

const peerId = fc.constantFrom('12D3KooWA', '12D3KooWB', 'x', '')
const vectorArb = fc.record({
  peer: peerId.filter(p => p !== ''),
  incarnation: fc.nat(),
  version: fc.nat(),
  cpuLoad: fc.double({ min: 0, max: 1, noNaN: true }),
  slotsFree: fc.integer({ min: 0, max: 64 }),
  labels: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
}).map(r => vector(r.peer, { incarnation: r.incarnation, version: r.version, cpuLoad: r.cpuLoad, slotsFree: r.slotsFree, labels: r.labels }))
const gossipArb = fc.oneof(
  vectorArb.map(v => ({ t: 'vector' as const, v })),
  fc.record({ t: fc.constant('suspect' as const), peerId: peerId.filter(p => p !== ''), incarnation: fc.nat() }),
)

const hash = 'a'.repeat(64)
const spec = { jobId: 'j1', kind: 'function', codeHash: hash, moduleName: 'm.mjs', priority: 'normal', submitter: 'P1', submittedAtMs: 1 } as const
const record = { jobId: 'j1', kind: 'function', moduleName: 'm.mjs', state: 'running', coordinator: 'P1', term: 1, submitter: 'P2', priority: 'normal', tasks: 3, done: 1, inFlight: 1, failures: 0, tasksByPeer: { P1: 1 }, submittedAtMs: 1 } as const
const rpcSamples: RpcMessage[] = [
  { t: 'job.submit', spec, code: 'export default {}', input: { type: 'json', value: [1, 2] }, term: 1 },
  { t: 'job.standby', spec, code: 'x', input: { type: 'bytes', base64: 'AAAA' } },
  { t: 'job.standbyAck', jobId: 'j1' },
  { t: 'job.accepted', jobId: 'j1', term: 2 },
  { t: 'job.rejected', jobId: 'j1', term: 1, error: 'no' },
  { t: 'task.assign', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', term: 1, codeHash: hash, kind: 'function', parts: 3, chunk: { a: 1 }, tools: ['cc'] },
  { t: 'task.abort', attemptId: 'j1:0:1' },
  { t: 'task.ok', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', value: 42, ms: 0.012 },
  { t: 'task.failed', jobId: 'j1', taskIndex: 0, attemptId: 'j1:0:1', kind: 'threw', error: 'boom' },
  { t: 'task.assigns', jobId: 'j1', term: 1, codeHash: hash, kind: 'action', parts: 3, tasks: [[0, 'j1:0:1', { a: 1 }], [2, 'j1:2:1', null]] },
  { t: 'task.results', jobId: 'j1', ok: [[0, 'j1:0:1', 42, 3.5]], failed: [[1, 'j1:1:2', 'threw', 'boom']] },
  { t: 'code.get', hash },
  { t: 'code.put', hash, code: 'x' },
  { t: 'job.update', record },
  { t: 'job.cancel', jobId: 'j1' },
  { t: 'job.replica', spec, code: 'x', chunks: [1, 2, 3], replicaSet: ['P1', 'P2'], term: 1 },
  { t: 'job.progress', jobId: 'j1', term: 1, peers: ['P1', 'P2'], done: [[0, 0, 5], [3, 1, null], [4, 0, 'x']] },
  { t: 'job.claim', jobId: 'j1', term: 2 },
  { t: 'job.claimReply', jobId: 'j1', term: 2, ok: true, promisedTerm: 2 },
  { t: 'job.commit', jobId: 'j1', term: 2, record },
  { t: 'job.commitReply', jobId: 'j1', term: 2, ok: false, promisedTerm: 3 },
  { t: 'job.takeover', jobId: 'j1', term: 3, coordinator: 'P2' },
  { t: 'job.query', jobId: 'j1' },
  { t: 'job.found', record },
]
const rpcArb = fc.constantFrom(...rpcSamples)

function checkGossip (data: Uint8Array): void {
  const r = decodeGossip(data)
  if (r.ok) expect(GossipMessageSchema.safeParse(r.message).success).toBe(true)
  else expect(typeof r.reason).toBe('string')
}

function checkRpc (data: Uint8Array): void {
  const r = decodeRpc(data)
  if (r.ok) expect(RpcMessageSchema.safeParse(r.message).success).toBe(true)
  else expect(r.reason.length).toBeGreaterThan(0)
}

describe(`gossip decoder (${DECODER_RUNS} cases per property)`, () => {
  it('valid messages round-trip', () => {
    fc.assert(fc.property(gossipArb, m => { expect(decodeGossip(encodeGossip(m))).toEqual({ ok: true, message: m }) }), { numRuns: DECODER_RUNS })
  })
  it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), checkGossip), { numRuns: DECODER_RUNS })
  })
  it('random JSON never throws', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), v => checkGossip(json(v))), { numRuns: DECODER_RUNS })
  })
  it('byte-mutated valid messages never throw', () => {
    fc.assert(fc.property(mutated(gossipArb.map(m => encodeGossip(m))), checkGossip), { numRuns: DECODER_RUNS })
  })
  it('field-mutated vectors never throw and are accepted only when still valid', () => {
    fc.assert(fc.property(fieldMutated(vectorArb), v => {
      const r = decodeGossip(json({ t: 'vector', v }))
      expect(r.ok).toBe(StateVectorSchema.safeParse(v).success)
    }), { numRuns: DECODER_RUNS })
  })
  it('oversized messages are refused by size before parsing', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4096 }), n => {
      const r = decodeGossip(new Uint8Array(n + 10), n)
      expect(r).toEqual({ ok: false, reason: `message of ${n + 10} bytes exceeds ${n}` })
    }), { numRuns: DECODER_RUNS })
  })
})

describe(`rpc decoder (${DECODER_RUNS} cases per property)`, () => {
  it('every valid message round-trips', () => {
    // Results come back as RawJson (their JSON text, unparsed): compared as JSON.
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v))
    for (const m of rpcSamples) expect(plain(decodeRpc(encodeRpc(m)))).toEqual({ ok: true, message: plain(m) })
  })
  it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), checkRpc), { numRuns: DECODER_RUNS })
  })
  it('job.progress naming a peer beyond its peers is refused, and says so', () => {
    const bad = { t: 'job.progress', jobId: 'j1', term: 1, peers: ['P1'], done: [[0, 0, 5], [1, 1, 5]] }
    expect(decodeRpc(json(bad))).toEqual({ ok: false, reason: 'invalid rpc message: done: a done entry names a peer beyond peers' })
  })
  it('random JSON, and random JSON with a valid message type, never throw', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(...rpcSamples.map(m => m.t)), (v, t) => {
      checkRpc(json(v))
      checkRpc(json(v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v, t } : { t, v }))
    }), { numRuns: DECODER_RUNS })
  })
  it('byte-mutated valid messages never throw', () => {
    fc.assert(fc.property(mutated(rpcArb.map(m => encodeRpc(m))), checkRpc), { numRuns: DECODER_RUNS })
  })
  it('field-mutated valid messages never throw', () => {
    fc.assert(fc.property(fieldMutated(rpcArb), v => checkRpc(json(v))), { numRuns: DECODER_RUNS })
  })
})

describe(`frame decoder (${DECODER_RUNS} cases per property)`, () => {
  it('valid frames come back whole however the stream is split', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (payloads, cuts) => {
      const bytes = encodeFrames(payloads)
      const points = [...new Set(cuts.map(c => bytes.length === 0 ? 0 : c % bytes.length))].sort((a, b) => a - b)
      const decoder = new FrameDecoder(1024)
      const out: Buffer[] = []
      let at = 0
      for (const p of [...points, bytes.length]) {
        out.push(...decoder.push(bytes.subarray(at, p)))
        at = p
      }
      expect(out.map(b => Buffer.from(b).toString('hex'))).toEqual(payloads.map(p => Buffer.from(p).toString('hex')))
    }), { numRuns: DECODER_RUNS })
  })
  it('random bytes either yield frames within the limit or fail with FrameTooLargeError', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), chunks => {
      const decoder = new FrameDecoder(256)
      try {
        for (const c of chunks) for (const f of decoder.push(c)) expect(f.length).toBeLessThanOrEqual(256)
      } catch (err) {
        expect(err).toBeInstanceOf(FrameTooLargeError)
      }
    }), { numRuns: DECODER_RUNS })
  })
})

describe(`schemas at the control API and job boundaries (${DECODER_RUNS} cases per property)`, () => {
  it('submit requests, job specs and job records: safeParse never throws on anything', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 3 }), v => {
      for (const schema of [SubmitRequestSchema, JobSpecSchema, JobRecordSchema, RpcMessageSchema, GossipMessageSchema]) {
        expect(typeof schema.safeParse(v).success).toBe('boolean')
      }
    }), { numRuns: DECODER_RUNS })
  })
  it('field-mutated job specs and records are either valid or refused, never thrown', () => {
    fc.assert(fc.property(fieldMutated(fc.constant(spec)), fieldMutated(fc.constant(record)), (s, r) => {
      expect(typeof JobSpecSchema.safeParse(s).success).toBe('boolean')
      expect(typeof JobRecordSchema.safeParse(r).success).toBe('boolean')
    }), { numRuns: DECODER_RUNS })
  })
  it('API tokens: any header parses without throwing; only the exact token matches', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), fc.string({ minLength: 1, maxLength: 40 }), (header, token) => {
      const presented = bearerToken(header)
      expect(tokenMatches(presented, token)).toBe(presented === token)
      expect(tokenMatches(`Bearer ${token}`.slice(7), token)).toBe(true)
      expect(() => presentedToken({ authorization: header })).not.toThrow()
    }), { numRuns: DECODER_RUNS })
  })
  it('election specs: anything but rendezvous or fixed:<peer> is a usage error', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), s => {
      try { parseElectionSpec(s) } catch (err) { expect(err).toBeInstanceOf(InvalidElectionSpecError) }
    }), { numRuns: DECODER_RUNS })
  })
})

describe(`mesh key files (${FILE_RUNS} cases)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-fuzz-key-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  it('random or mutated key files are refused with MeshKeyError, never another error', () => {
    const valid = fc.constant(null).map(() => newMeshKey())
    let n = 0
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(valid), valid), bytes => {
      const path = join(dir, `k${n++}`)
      writeFileSync(path, bytes, { mode: 0o600 })
      try {
        expect(readMeshKeyFile(path)).toEqual(new Uint8Array(bytes))
      } catch (err) {
        expect(err).toBeInstanceOf(MeshKeyError)
      }
    }), { numRuns: FILE_RUNS })
  })
})
