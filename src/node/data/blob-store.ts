import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync } from 'node:fs'
import { open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { MeshworkError } from '../../util/errors.js'
import { BlockHasher, decodeManifest, type Manifest } from './blob-manifest.js'

// The blobs this node holds (DATA_DIR/blobs): input files uploaded through its API, stored once
// under their id, read back in ranges for local tasks and for peers. An upload is hashed as it
// streams to a temporary file and renamed into place: a blob is either whole or absent.

export class BlobError extends MeshworkError { readonly code = 'blob' }

const BLOB_ID_RE = /^[0-9a-f]{64}$/

export class BlobStore {
  private readonly manifests = new Map<string, Manifest>()

  constructor (readonly dir: string) {
    mkdirSync(dir, { recursive: true })
  }

  /** Streams `body` into the store; refuses more than `bytesMax` bytes (the partial file is removed). */
  async ingest (body: Readable, bytesMax: number): Promise<{ blob: string, size: number }> {
    const tmp = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`)
    const hasher = new BlockHasher()
    const out = createWriteStream(tmp, { flags: 'wx' })
    try {
      let size = 0
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > bytesMax) throw new BlobError(`the upload exceeds ${bytesMax} bytes, this node's limit (--max-blob-bytes)`)
        hasher.update(chunk)
        if (!out.write(chunk)) await new Promise<void>((resolve, reject) => { out.once('drain', resolve); out.once('error', reject) })
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => err ? reject(err) : resolve()))
      const { manifest, id, size: total } = hasher.finish()
      await writeFile(join(this.dir, `${id}.manifest`), manifest)
      await rename(tmp, join(this.dir, id))
      return { blob: id, size: total }
    } catch (err) {
      out.destroy()
      await rm(tmp, { force: true })
      throw err
    }
  }

  /** The blob's manifest (cached), or undefined when this node does not hold it. */
  async manifest (id: string): Promise<Manifest | undefined> {
    if (!BLOB_ID_RE.test(id)) return undefined
    const known = this.manifests.get(id)
    if (known !== undefined) return known
    const bytes = await this.manifestBytes(id)
    if (bytes === undefined) return undefined
    const m = decodeManifest(bytes, id)
    if (this.manifests.size >= 1024) this.manifests.clear()
    this.manifests.set(id, m)
    return m
  }

  async manifestBytes (id: string): Promise<Buffer | undefined> {
    if (!BLOB_ID_RE.test(id)) return undefined
    try {
      await stat(join(this.dir, id))
      return await readFile(join(this.dir, `${id}.manifest`))
    } catch {
      return undefined
    }
  }

  /** Bytes [from, to) of a held blob (clamped to its size). */
  async read (id: string, from: number, to: number): Promise<Buffer> {
    const reader = await this.reader(id)
    try {
      return await reader.read(from, to)
    } finally {
      await reader.close()
    }
  }

  /** The blob opened once for several reads (a peer's range, served a block at a time). */
  async reader (id: string): Promise<{ read: (from: number, to: number) => Promise<Buffer>, close: () => Promise<void> }> {
    const handle = await open(join(this.dir, id), 'r')
    return {
      read: async (from, to) => {
        const length = Math.max(0, to - from)
        const buf = Buffer.allocUnsafe(length)
        let got = 0
        while (got < length) {
          const { bytesRead } = await handle.read(buf, got, length - got, from + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        return got === length ? buf : buf.subarray(0, got)
      },
      close: async () => { await handle.close() },
    }
  }

  /** A job used the blob: it is kept for another retention period. */
  async touch (id: string): Promise<void> {
    const now = new Date()
    await utimes(join(this.dir, id), now, now).catch(() => {})
  }

  /** Removes blobs unused for `retentionMs` (> 0) and uploads abandoned as long; returns how many. */
  async sweep (nowMs: number, retentionMs: number): Promise<number> {
    if (!(retentionMs > 0)) return 0
    let removed = 0
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith('.manifest')) continue
      const path = join(this.dir, name)
      const s = await stat(path).catch(() => undefined)
      if (s === undefined || nowMs - s.mtimeMs < retentionMs) continue
      await rm(path, { force: true })
      if (BLOB_ID_RE.test(name)) {
        await rm(join(this.dir, `${name}.manifest`), { force: true })
        this.manifests.delete(name)
      }
      removed++
    }
    return removed
  }
}
