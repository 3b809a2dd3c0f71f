import { createHash } from 'node:crypto'

// A blob is named by the sha256 of its manifest, which lists the sha256 of each of its blocks:
// a node that fetched the manifest from anyone checks it against the name, then checks every
// block it fetches on its own, so a range is verified without reading the whole blob.

/** Bytes per block: a range task fetches at most about two blocks more than its range. */
export const BLOCK_BYTES = 256 * 1024
const HEADER = 'meshwork-blob 1'

export interface Manifest {
  size: number
  blockBytes: number
  /** sha256 hex of each block, in order. */
  blocks: string[]
}

export function encodeManifest (m: Manifest): Buffer {
  return Buffer.from(`${HEADER}\nsize ${m.size}\nblock ${m.blockBytes}\n${m.blocks.map(h => `${h}\n`).join('')}`, 'utf8')
}

export function blobIdOf (manifest: Uint8Array): string {
  return createHash('sha256').update(manifest).digest('hex')
}

/** Parses a manifest fetched for blob `id`; throws naming what is wrong (it is input from a peer). */
export function decodeManifest (bytes: Uint8Array, id: string): Manifest {
  if (blobIdOf(bytes) !== id) throw new Error(`the manifest does not hash to the blob id ${id.slice(0, 12)}…`)
  const lines = Buffer.from(bytes).toString('utf8').split('\n')
  const size = /^size (\d+)$/.exec(lines[1] ?? '')
  const block = /^block (\d+)$/.exec(lines[2] ?? '')
  if (lines[0] !== HEADER || size === null || block === null) throw new Error('not a blob manifest')
  const m: Manifest = { size: Number(size[1]), blockBytes: Number(block[1]), blocks: lines.slice(3, -1) }
  if (!(m.blockBytes > 0) || m.blocks.length !== Math.ceil(m.size / m.blockBytes) || m.blocks.some(h => !/^[0-9a-f]{64}$/.test(h))) {
    throw new Error('the manifest\'s blocks do not match its size')
  }
  return m
}

/** Hashes a stream's bytes block by block as they pass (the store ingests uploads with it). */
export class BlockHasher {
  private readonly blocks: string[] = []
  private hash = createHash('sha256')
  private inBlock = 0
  private size = 0

  constructor (private readonly blockBytes = BLOCK_BYTES) {}

  update (chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, this.blockBytes - this.inBlock)
      this.hash.update(chunk.subarray(at, at + take))
      this.inBlock += take
      at += take
      if (this.inBlock === this.blockBytes) this.endBlock()
    }
    this.size += chunk.length
  }

  finish (): { manifest: Buffer, id: string, size: number } {
    if (this.inBlock > 0) this.endBlock()
    const manifest = encodeManifest({ size: this.size, blockBytes: this.blockBytes, blocks: this.blocks })
    return { manifest, id: blobIdOf(manifest), size: this.size }
  }

  private endBlock (): void {
    this.blocks.push(this.hash.digest('hex'))
    this.hash = createHash('sha256')
    this.inBlock = 0
  }
}

/** Whether `bytes` are block `index` of the blob `m` describes. */
export function blockVerifies (m: Manifest, index: number, bytes: Uint8Array): boolean {
  const expected = m.blocks[index]
  const length = Math.min(m.blockBytes, m.size - index * m.blockBytes)
  return expected !== undefined && bytes.length === length && createHash('sha256').update(bytes).digest('hex') === expected
}
