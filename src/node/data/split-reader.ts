import { open, realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { DEFAULT_DELIMITER, recordSpan, type InputSplit, type SourceRef } from '../../jobs/input-source.js'
import { MeshworkError } from '../../util/errors.js'
import type { FailureKind } from '../../jobs/failure-kinds.js'
import { shortPeer } from '../../util/short-peer.js'
import { blockVerifies, decodeManifest, type Manifest } from './blob-manifest.js'
import type { BlobStore } from './blob-store.js'

// A worker's read of one task's input split: the bytes of the records starting in its range,
// from this node's own store when it holds the blob, else from a holder peer to peer, each
// fetched block checked against the blob's manifest. A block that fails its hash is fetched
// again (then from the next holder); a split no holder can serve fails naming its input.

export type SplitFailureKind = Extract<FailureKind, 'input-gone' | 'input-corrupt' | 'input-denied'>

export class SplitReadError extends MeshworkError {
  readonly code = 'split-read'
  constructor (readonly kind: SplitFailureKind, message: string) { super(message) }
}

export interface RemoteBlobs {
  manifest: (peerId: string, blob: string) => Promise<Buffer>
  range: (peerId: string, blob: string, from: number, to: number) => Promise<Buffer>
}

/** Fetches of one holder that fail their hash before it is given up for the next. */
const CORRUPT_RETRIES = 1
const MANIFESTS_MAX = 256

export class SplitReader {
  private readonly manifests = new Map<string, Manifest>()
  /** Blocks that failed their hash, for the node's figures. */
  corruptBlocks = 0

  constructor (private readonly selfId: string, private readonly store: BlobStore, private readonly remote: RemoteBlobs, private readonly shared: SharedFiles = new SharedFiles([])) {}

  async read (split: InputSplit, ref: SourceRef): Promise<Buffer> {
    if (split.file.path !== undefined) return await this.readShared(split, split.file.path, ref)
    const holders = ref.holders.includes(this.selfId) ? [this.selfId, ...ref.holders.filter(h => h !== this.selfId)] : ref.holders
    const reasons: string[] = []
    let corrupt = false
    for (const holder of holders) {
      try {
        return await this.readFrom(holder, split, ref)
      } catch (err) {
        if (err instanceof SplitReadError && err.kind === 'input-corrupt') corrupt = true
        reasons.push(`${shortPeer(holder)}: ${(err as Error).message}`)
      }
    }
    const what = `input ${JSON.stringify(split.file.name)} (blob ${(split.file.blob ?? '').slice(0, 12)}…, bytes ${split.start}–${split.end})`
    if (corrupt) throw new SplitReadError('input-corrupt', `${what} failed its hash on every holder: ${reasons.join('; ')}`)
    throw new SplitReadError('input-gone', `${what} is gone: no holder could serve it (${reasons.join('; ')})`)
  }

  /** A split of a file every node has at the same path (`--input-shared`), read here, where the owner allows it. */
  private async readShared (split: InputSplit, path: string, ref: SourceRef): Promise<Buffer> {
    const file = await this.shared.open(path, split.file.size, split.file.name)
    try {
      return await spanOf(split, ref, file.size, 256 * 1024, async (from, to) => await file.read(from, to))
    } finally {
      await file.close()
    }
  }

  private async readFrom (holder: string, split: InputSplit, ref: SourceRef): Promise<Buffer> {
    const blob = split.file.blob as string
    const local = holder === this.selfId
    const m = local ? await this.store.manifest(blob) : await this.remoteManifest(holder, blob)
    if (m === undefined) throw new Error('this node no longer holds it')
    if (m.size !== split.file.size) throw new Error(`the blob holds ${m.size} bytes, the job says ${split.file.size}`)
    const fetch = async (from: number, to: number): Promise<Buffer> => local ? await this.store.read(blob, from, to) : await this.verified(holder, blob, m, from, to)
    return await spanOf(split, ref, m.size, m.blockBytes, fetch)
  }

  private async remoteManifest (holder: string, blob: string): Promise<Manifest> {
    const known = this.manifests.get(blob)
    if (known !== undefined) return known
    const m = decodeManifest(await this.remote.manifest(holder, blob), blob)
    if (this.manifests.size >= MANIFESTS_MAX) this.manifests.clear()
    this.manifests.set(blob, m)
    return m
  }

  /** Whole blocks [from, to) from `holder`, each checked; a block that fails is fetched again. */
  private async verified (holder: string, blob: string, m: Manifest, from: number, to: number): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const bytes = await this.remote.range(holder, blob, from, to)
      if (bytes.length !== to - from) throw new Error(`asked for ${to - from} bytes, got ${bytes.length}`)
      const bad = firstBadBlock(m, from, bytes)
      if (bad === undefined) return bytes
      this.corruptBlocks++
      if (attempt >= CORRUPT_RETRIES) throw new SplitReadError('input-corrupt', `block ${bad} failed its hash ${attempt + 1} times`)
    }
  }
}

function firstBadBlock (m: Manifest, from: number, bytes: Buffer): number | undefined {
  for (let at = 0; at < bytes.length; at += m.blockBytes) {
    const index = (from + at) / m.blockBytes
    if (!blockVerifies(m, index, bytes.subarray(at, at + m.blockBytes))) return index
  }
  return undefined
}

/**
 * The bytes of the records starting in a split, read through `fetch` in windows of whole
 * `B`-byte blocks, widened until recordSpan knows where they end.
 */
async function spanOf (split: InputSplit, ref: SourceRef, size: number, B: number, fetch: (from: number, to: number) => Promise<Buffer>): Promise<Buffer> {
  if (ref.records?.file === true) return await fetch(0, size)
  const delimiter = Buffer.from(ref.records?.delimiter ?? DEFAULT_DELIMITER, 'utf8')
  const windowStart = Math.floor(Math.max(0, split.start - delimiter.length) / B) * B
  let window = await fetch(windowStart, Math.min(size, Math.ceil(split.end / B) * B))
  for (;;) {
    const span = recordSpan(split, window, windowStart, delimiter)
    if ('from' in span) return window.subarray(span.from - windowStart, span.to - windowStart)
    const at = windowStart + window.length
    const more = await fetch(at, Math.min(size, Math.ceil(Math.max(span.more, at + 1) / B) * B))
    if (more.length === 0) throw new Error(`the input ends at ${at}, before its size says`)
    window = Buffer.concat([window, more])
  }
}

/**
 * Shared input (`--input-shared`): files at the same path on every node, which a node reads only
 * under the directories its owner shares (`start --shared-dir DIR`): a job cannot have a node
 * read its owner's files by naming them. The path is resolved (symlinks followed) before the check.
 */
export class SharedFiles {
  private readonly dirs: string[]

  constructor (dirs: readonly string[]) {
    this.dirs = dirs.map(d => resolve(d))
  }

  get allowed (): readonly string[] { return this.dirs }

  async open (path: string, size: number, name: string): Promise<{ size: number, read: (from: number, to: number) => Promise<Buffer>, close: () => Promise<void> }> {
    const what = `shared input ${JSON.stringify(name)} (${path})`
    let real: string
    try {
      real = await realpath(path)
    } catch {
      throw new SplitReadError('input-gone', `${what} is not on this node`)
    }
    if (!this.dirs.some(d => real === d || real.startsWith(d.endsWith(sep) ? d : d + sep))) {
      throw new SplitReadError('input-denied', `${what} is outside the directories this node shares (${this.dirs.length === 0 ? 'none: start it with --shared-dir DIR' : this.dirs.join(', ')})`)
    }
    const handle = await open(real, 'r')
    try {
      const st = await handle.stat()
      if (!st.isFile()) throw new SplitReadError('input-gone', `${what} is not a file on this node`)
      if (st.size !== size) throw new SplitReadError('input-gone', `${what} is ${st.size} bytes on this node and ${size} where the job was submitted: not the same file`)
    } catch (err) {
      await handle.close()
      throw err
    }
    return {
      size,
      read: async (from, to) => {
        const out = Buffer.allocUnsafe(to - from)
        let got = 0
        while (got < out.length) {
          const { bytesRead } = await handle.read(out, got, out.length - got, from + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        return out.subarray(0, got)
      },
      close: async () => { await handle.close() },
    }
  }
}
