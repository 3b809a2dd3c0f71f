import { DEFAULT_DELIMITER, recordSpan, type InputSplit, type SourceRef } from '../../jobs/input-source.js'
import { MeshworkError } from '../../util/errors.js'
import { shortPeer } from '../../util/short-peer.js'
import { blockVerifies, decodeManifest, type Manifest } from './blob-manifest.js'
import type { BlobStore } from './blob-store.js'

// A worker's read of one task's input split: the bytes of the records starting in its range,
// from this node's own store when it holds the blob, else from a holder peer to peer, each
// fetched block checked against the blob's manifest. A block that fails its hash is fetched
// again (then from the next holder); a split no holder can serve fails naming its input.

export type SplitFailureKind = 'input-gone' | 'input-corrupt'

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

  constructor (private readonly selfId: string, private readonly store: BlobStore, private readonly remote: RemoteBlobs) {}

  async read (split: InputSplit, ref: SourceRef): Promise<Buffer> {
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
    const what = `input ${JSON.stringify(split.file.name)} (blob ${split.file.blob.slice(0, 12)}…, bytes ${split.start}–${split.end})`
    if (corrupt) throw new SplitReadError('input-corrupt', `${what} failed its hash on every holder: ${reasons.join('; ')}`)
    throw new SplitReadError('input-gone', `${what} is gone: no holder could serve it (${reasons.join('; ')})`)
  }

  private async readFrom (holder: string, split: InputSplit, ref: SourceRef): Promise<Buffer> {
    const local = holder === this.selfId
    const m = local ? await this.store.manifest(split.file.blob) : await this.remoteManifest(holder, split.file.blob)
    if (m === undefined) throw new Error('this node no longer holds it')
    if (m.size !== split.file.size) throw new Error(`the blob holds ${m.size} bytes, the job says ${split.file.size}`)
    const fetch = async (from: number, to: number): Promise<Buffer> => local ? await this.store.read(split.file.blob, from, to) : await this.verified(holder, split.file.blob, m, from, to)
    if (ref.records?.file === true) return await fetch(0, m.size)
    const delimiter = Buffer.from(ref.records?.delimiter ?? DEFAULT_DELIMITER, 'utf8')
    const B = m.blockBytes
    const windowStart = Math.floor(Math.max(0, split.start - delimiter.length) / B) * B
    let window = await fetch(windowStart, Math.min(m.size, Math.ceil(split.end / B) * B))
    for (;;) {
      const span = recordSpan(split, window, windowStart, delimiter)
      if ('from' in span) return window.subarray(span.from - windowStart, span.to - windowStart)
      const at = windowStart + window.length
      const more = await fetch(at, Math.min(m.size, Math.ceil(Math.max(span.more, at + 1) / B) * B))
      if (more.length === 0) throw new Error(`the blob ends at ${at}, before its manifest says`)
      window = Buffer.concat([window, more])
    }
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
