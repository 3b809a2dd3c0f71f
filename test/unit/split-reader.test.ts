import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { planSplits } from '../../src/jobs/input-source.js'
import { BLOCK_BYTES, decodeManifest } from '../../src/node/data/blob-manifest.js'
import { BlobStore } from '../../src/node/data/blob-store.js'
import { SharedFiles, SplitReader, SplitReadError, type RemoteBlobs } from '../../src/node/data/split-reader.js'

let dir: string
let store: BlobStore
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'mw-blobs-')); store = new BlobStore(dir) })
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** Lines of varied length, about `bytes` long: ranges fall inside lines and across blocks. */
function text (bytes: number): Buffer {
  const lines: string[] = []
  let n = 0
  for (let i = 0; n < bytes; i++) { const l = `line ${i} ${'x'.repeat((i * 7919) % 3000)}\n`; lines.push(l); n += l.length }
  return Buffer.from(lines.join(''))
}

const ingest = async (bytes: Buffer) => await store.ingest(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), Infinity)

/** A holder peer serving from `store`, optionally flipping a byte of its first `corruptFetches` range answers. */
function remote (from: BlobStore, corruptFetches = 0, gone = new Set<string>()): RemoteBlobs & { fetches: number } {
  const r = {
    fetches: 0,
    manifest: async (peer: string, blob: string) => {
      if (gone.has(peer)) throw new Error('dial timeout')
      const m = await from.manifestBytes(blob)
      if (m === undefined) throw new Error('not held')
      return m
    },
    range: async (peer: string, blob: string, a: number, b: number) => {
      if (gone.has(peer)) throw new Error('dial timeout')
      const bytes = Buffer.from(await from.read(blob, a, b))
      if (r.fetches++ < corruptFetches) bytes[0] = (bytes[0] as number) ^ 0xff
      return bytes
    },
  }
  return r
}

describe('BlobStore', () => {
  it('stores an upload under the id of its manifest, which lists each block', async () => {
    const bytes = text(3 * BLOCK_BYTES + 123)
    const { blob, size } = await ingest(bytes)
    expect(size).toBe(bytes.length)
    const m = decodeManifest((await store.manifestBytes(blob))!, blob)
    expect(m.blocks).toHaveLength(4)
    expect(Buffer.compare(await store.read(blob, 10, 5000), bytes.subarray(10, 5000))).toBe(0)
    expect((await ingest(bytes)).blob).toBe(blob) // content-addressed: the same bytes, the same blob
  })

  it('refuses an upload over its limit and leaves nothing behind', async () => {
    await expect(store.ingest(Readable.from([Buffer.alloc(5000)]), 4096)).rejects.toThrow(/exceeds 4096 bytes.*--max-blob-bytes/)
    const { readdirSync } = await import('node:fs')
    expect(readdirSync(dir)).toEqual([])
  })

  it('a manifest that does not hash to the id is refused', async () => {
    const { blob } = await ingest(text(1000))
    const m = Buffer.from((await store.manifestBytes(blob))!)
    m[m.length - 2] = 0x30
    expect(() => decodeManifest(m, blob)).toThrow(/does not hash/)
  })
})

describe('SplitReader', () => {
  for (const [name, local] of [['from its own store', true], ['from a holder peer', false]] as const) {
    it(`reads every line exactly once, ${name}`, async () => {
      const bytes = text(5 * BLOCK_BYTES)
      const { blob, size } = await ingest(bytes)
      const reader = new SplitReader(local ? 'self' : 'worker', local ? store : new BlobStore(join(dir, 'other')), remote(store))
      const source = { files: [{ blob, size, name: 'corpus.txt' }], holders: ['self'] }
      const parts = await Promise.all(planSplits(source, 13).map(async s => await reader.read(s, source)))
      expect(Buffer.compare(Buffer.concat(parts), bytes)).toBe(0)
      for (const p of parts.slice(0, -1)) if (p.length > 0) expect(p[p.length - 1]).toBe(0x0a)
    })
  }

  it('fetches a block that fails its hash again', async () => {
    const bytes = text(2 * BLOCK_BYTES)
    const { blob, size } = await ingest(bytes)
    const r = remote(store, 1)
    const reader = new SplitReader('worker', new BlobStore(join(dir, 'other')), r)
    const source = { files: [{ blob, size, name: 'corpus.txt' }], holders: ['holder'] }
    const [split] = planSplits(source, 1)
    expect(Buffer.compare(await reader.read(split!, source), bytes)).toBe(0)
    expect(reader.corruptBlocks).toBe(1)
    expect(r.fetches).toBe(2)
  })

  it('names the input when every holder serves corrupt blocks', async () => {
    const { blob, size } = await ingest(text(1000))
    const reader = new SplitReader('worker', new BlobStore(join(dir, 'other')), remote(store, Infinity))
    const source = { files: [{ blob, size, name: 'corpus.txt' }], holders: ['h1', 'h2'] }
    const err = await reader.read(planSplits(source, 1)[0]!, source).catch(e => e)
    expect(err).toBeInstanceOf(SplitReadError)
    expect(err.kind).toBe('input-corrupt')
    expect(err.message).toMatch(/input "corpus.txt".*failed its hash on every holder/)
  })

  it('goes to the next holder when one is gone, and names the input when all are', async () => {
    const bytes = text(1000)
    const { blob, size } = await ingest(bytes)
    const gone = new Set(['h1'])
    const reader = new SplitReader('worker', new BlobStore(join(dir, 'other')), remote(store, 0, gone))
    const source = { files: [{ blob, size, name: 'corpus.txt' }], holders: ['h1', 'h2'] }
    const [split] = planSplits(source, 1)
    expect(Buffer.compare(await reader.read(split!, source), bytes)).toBe(0)
    gone.add('h2')
    const fresh = new SplitReader('worker2', new BlobStore(join(dir, 'other2')), remote(store, 0, gone))
    const err = await fresh.read(split!, source).catch(e => e)
    expect(err.kind).toBe('input-gone')
    expect(err.message).toMatch(/input "corpus.txt" \(blob [0-9a-f]{12}…, bytes 0–\d+\) is gone: no holder could serve it \(h1: dial timeout; h2: dial timeout\)/)
  })

  it('refuses a blob whose size is not what the job says', async () => {
    const { blob, size } = await ingest(text(1000))
    writeFileSync(join(dir, 'unused'), '')
    const reader = new SplitReader('self', store, remote(store))
    const source = { files: [{ blob, size: size + 1, name: 'c.txt' }], holders: ['self'] }
    await expect(reader.read({ file: source.files[0]!, start: 0, end: size + 1 }, source)).rejects.toThrow(/holds \d+ bytes, the job says/)
  })
})

describe('an empty file', () => {
  it('is a blob of no blocks, read as no bytes', async () => {
    const { blob, size } = await store.ingest(Readable.from([]), Infinity)
    expect(size).toBe(0)
    expect(decodeManifest((await store.manifestBytes(blob))!, blob).blocks).toEqual([])
    const reader = new SplitReader('self', store, remote(store))
    const source = { files: [{ blob, size, name: 'empty' }], holders: ['self'] }
    expect((await reader.read(planSplits(source, 3)[0]!, source)).length).toBe(0)
  })
})

describe('shared input (--input-shared, read in place under --shared-dir)', () => {
  let root: string
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'mw-shared-')) })
  afterEach(() => rmSync(root, { recursive: true, force: true }))
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'y'.repeat(i % 70)}`).join('\n') + '\n'

  it('reads each split\'s whole lines; the splits together are the file', async () => {
    mkdirSync(join(root, 'share'))
    const path = join(root, 'share', 'in.txt')
    writeFileSync(path, text)
    const reader = new SplitReader('me', new BlobStore(join(root, 'blobs')), {} as RemoteBlobs, new SharedFiles([join(root, 'share')]))
    const file = { path, size: Buffer.byteLength(text), name: 'in.txt' }
    const source = { files: [file], holders: ['me'] }
    const parts = await Promise.all(planSplits(source, 7, 1).map(async s => (await reader.read(s, { holders: ['me'] })).toString()))
    expect(parts.join('')).toBe(text)
    for (const p of parts) expect(p === '' || p.endsWith('\n')).toBe(true)
  })

  const refusals: Array<[string, (root: string) => { dirs: string[], path: string, size?: number }, string, RegExp]> = [
    ['outside every shared dir', r => ({ dirs: [join(r, 'share')], path: join(r, 'other.txt') }), 'input-denied', /outside the directories this node shares/],
    ['a node sharing nothing', r => ({ dirs: [], path: join(r, 'share', 'in.txt') }), 'input-denied', /none: start it with --shared-dir DIR/],
    ['a sibling dir whose name starts alike', r => ({ dirs: [join(r, 'share')], path: join(r, 'share-2', 'in.txt') }), 'input-denied', /outside/],
    ['missing here', r => ({ dirs: [join(r, 'share')], path: join(r, 'share', 'gone.txt') }), 'input-gone', /is not on this node/],
    ['another size here', r => ({ dirs: [join(r, 'share')], path: join(r, 'share', 'in.txt'), size: 5 }), 'input-gone', /bytes on this node and 5 where the job was submitted/],
  ]
  for (const [what, setup, kind, message] of refusals) {
    it(`refuses a path ${what}`, async () => {
      for (const d of ['share', 'share-2']) mkdirSync(join(root, d))
      for (const f of [join(root, 'share', 'in.txt'), join(root, 'share-2', 'in.txt'), join(root, 'other.txt')]) writeFileSync(f, text)
      const { dirs, path, size } = setup(root)
      const reader = new SplitReader('me', new BlobStore(join(root, 'blobs')), {} as RemoteBlobs, new SharedFiles(dirs))
      const file = { path, size: size ?? Buffer.byteLength(text), name: 'in.txt' }
      const err = await reader.read({ file, start: 0, end: file.size }, { holders: ['me'] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SplitReadError)
      expect(err).toMatchObject({ kind, message: expect.stringMatching(message) })
    })
  }
})
