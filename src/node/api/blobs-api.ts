import { statfs } from 'node:fs/promises'
import { BlobError, type BlobStore } from '../data/blob-store.js'
import { ApiError, type ApiServer } from './api-server.js'

// PUT /blobs: an input file streamed to this node as bytes (not base64 in JSON), stored once
// under its content id. The answer names it for a job's input: { blob, size }.

/** Default largest upload (--max-blob-bytes). */
export const DEFAULT_BLOB_BYTES_MAX = 64 * 1024 ** 3
/** An upload must leave this much of the disk free. */
const DISK_RESERVE_BYTES = 1024 ** 3

export function registerBlobRoutes (api: ApiServer, deps: { store: BlobStore, bytesMax: number }): void {
  api.route('PUT', '/blobs', async req => {
    const announced = Number(req.raw.headers['content-length'] ?? NaN)
    if (Number.isFinite(announced)) {
      if (announced > deps.bytesMax) throw new ApiError(413, `the upload of ${announced} bytes exceeds this node's limit of ${deps.bytesMax} bytes (--max-blob-bytes)`)
      const fs = await statfs(deps.store.dir).catch(() => undefined)
      const free = fs === undefined ? Infinity : fs.bavail * fs.bsize
      if (announced + DISK_RESERVE_BYTES > free) throw new ApiError(507, `the upload of ${announced} bytes does not fit on this node's disk (${free} bytes free, 1 GiB kept free)`)
    }
    try {
      return await deps.store.ingest(req.raw, deps.bytesMax)
    } catch (err) {
      if (err instanceof BlobError) throw new ApiError(413, err.message)
      throw err
    }
  }, { rawBody: true })
}
