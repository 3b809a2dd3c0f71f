import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { BlobIdSchema } from '../../jobs/input-source.js'
import type { MeshLibp2p } from '../net/libp2p.js'
import type { Logger } from '../host/logger.js'
import { BLOCK_BYTES } from './blob-manifest.js'
import type { BlobStore } from './blob-store.js'

// Blobs between peers, as bytes: one stream per request, a JSON request, a JSON header, then
// the bytes in length-prefixed frames of at most a block. Separate from the RPC protocol so a
// range in flight never holds up a task's assign or result on the same stream.

export const BLOB_PROTOCOL = '/meshwork/blob/1.0.0'
/** Largest range one request may ask for. */
export const RANGE_BYTES_MAX = 64 * 1024 * 1024
const REQUEST_TIMEOUT_MS = 10_000
/** A transfer that moves no byte on for this long is abandoned. */
const STALL_MS = 30_000

const RequestSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('manifest'), blob: BlobIdSchema }).strict(),
  z.object({ t: z.literal('range'), blob: BlobIdSchema, from: z.number().int().min(0), to: z.number().int().min(0) }).strict()
    .refine(r => r.from <= r.to && r.to - r.from <= RANGE_BYTES_MAX, `a range of at most ${RANGE_BYTES_MAX} bytes`),
])
type Request = z.infer<typeof RequestSchema>
const HeaderSchema = z.union([
  z.object({ ok: z.literal(true), bytes: z.number().int().min(0).max(RANGE_BYTES_MAX) }).strict(),
  z.object({ ok: z.literal(false), error: z.string().max(1024) }).strict(),
])

export class BlobProtocol {
  constructor (
    private readonly node: MeshLibp2p,
    private readonly store: BlobStore,
    private readonly dial: (peerId: string, protocol: string, signal: AbortSignal) => Promise<Stream>,
    private readonly log: Logger,
  ) {}

  async start (): Promise<void> {
    await this.node.handle(BLOB_PROTOCOL, (stream, connection) => {
      void this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
  }

  async stop (): Promise<void> { await this.node.unhandle(BLOB_PROTOCOL) }

  /** The blob's manifest as `peerId` holds it (the caller verifies it against the id). */
  async manifest (peerId: string, blob: string): Promise<Buffer> {
    return await this.request(peerId, { t: 'manifest', blob })
  }

  /** Bytes [from, to) of the blob as `peerId` holds it (the caller verifies the blocks). */
  async range (peerId: string, blob: string, from: number, to: number): Promise<Buffer> {
    return await this.request(peerId, { t: 'range', blob, from, to })
  }

  private async request (peerId: string, req: Request): Promise<Buffer> {
    const stream = await this.dial(peerId, BLOB_PROTOCOL, AbortSignal.timeout(REQUEST_TIMEOUT_MS))
    const lp = lpStream(stream, { maxDataLength: BLOCK_BYTES + 4096 })
    try {
      await lp.write(Buffer.from(JSON.stringify(req)), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      const header = HeaderSchema.safeParse(parseJson(await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })))
      if (!header.success) throw new Error('the holder answered with a malformed header')
      if (!header.data.ok) throw new Error(header.data.error)
      const out = Buffer.allocUnsafe(header.data.bytes)
      let got = 0
      while (got < out.length) {
        const frame = await lp.read({ signal: AbortSignal.timeout(STALL_MS) })
        if (got + frame.byteLength > out.length) throw new Error('the holder sent more bytes than it announced')
        out.set(frame.subarray(), got)
        got += frame.byteLength
      }
      await stream.close().catch(() => {})
      return out
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: 4096 })
    try {
      const parsed = RequestSchema.safeParse(parseJson(await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })))
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        await this.refuse(lp, `bad blob request: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`)
        return
      }
      const req = parsed.data
      if (req.t === 'manifest') {
        const bytes = await this.store.manifestBytes(req.blob)
        if (bytes === undefined) return await this.refuse(lp, `this node does not hold blob ${req.blob}`)
        await lp.write(Buffer.from(JSON.stringify({ ok: true, bytes: bytes.length })))
        await lp.write(bytes)
      } else {
        const m = await this.store.manifest(req.blob)
        if (m === undefined) return await this.refuse(lp, `this node does not hold blob ${req.blob}`)
        const to = Math.min(req.to, m.size)
        const fromAt = Math.min(req.from, to)
        await lp.write(Buffer.from(JSON.stringify({ ok: true, bytes: to - fromAt })))
        const reader = await this.store.reader(req.blob)
        try {
          for (let at = fromAt; at < to; at += BLOCK_BYTES) {
            await lp.write(await reader.read(at, Math.min(to, at + BLOCK_BYTES)), { signal: AbortSignal.timeout(STALL_MS) })
          }
        } finally {
          await reader.close()
        }
      }
      await stream.close().catch(() => {})
    } catch (err) {
      this.log.debug({ from, err: (err as Error).message }, 'blob request failed')
      stream.abort(err as Error)
    }
  }

  private async refuse (lp: ReturnType<typeof lpStream>, error: string): Promise<void> {
    await lp.write(Buffer.from(JSON.stringify({ ok: false, error })))
    await lp.unwrap().close().catch(() => {})
  }
}

function parseJson (bytes: { subarray: () => Uint8Array }): unknown {
  try { return JSON.parse(Buffer.from(bytes.subarray()).toString('utf8')) } catch { return undefined }
}
