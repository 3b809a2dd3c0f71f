import { createRequire } from 'node:module'
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'

// Telling the operator that a peer with another mesh key knocked. pnet itself cannot fail: it
// XORs with whatever key each side holds, and a peer with another key only shows up later as
// garbage that multistream-select or noise refuses (logged by libp2p at debug level), so the
// operator saw nothing but "1/1 alive". After the pnet nonces, the first bytes either side of a
// libp2p connection sends are multistream-select's header; this watches the raw bytes a
// connection receives, decrypts the first of them with our key (a cipher of its own: pnet's is
// untouched) and reports when they are not that header. It only observes: the connection then
// fails as before.

/** Dispatched on the libp2p node's events: `{ detail: MeshKeyMismatch }`. */
export const MESH_KEY_MISMATCH_EVENT = 'meshwork:mesh-key-mismatch'

export interface MeshKeyMismatch {
  /** The remote address, e.g. `/ip4/1.2.3.4/tcp/4001`. */
  remoteAddr: string
  /** Inbound: it dialled us. Outbound: we dialled it. */
  direction: 'inbound' | 'outbound'
}

const NONCE_BYTES = 24
/** Length-prefixed "/multistream/1.0.0\n" (@libp2p/multistream-select's PROTOCOL_ID). */
export const MULTISTREAM_HEADER = new Uint8Array([19, ...new TextEncoder().encode('/multistream/1.0.0\n')])

/** What libp2p's `connectionProtector` option takes. */
export type ProtectorFactory = (components: any) => ConnectionProtector
interface Cipher { update: (input: Uint8Array) => Uint8Array, finalize: () => void }
const xsalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher

/** The 32 key bytes of a v1 pnet key file (its third line, base16). */
export function pnetKeyBytes (psk: Uint8Array): Uint8Array {
  const hex = new TextDecoder().decode(psk).split(/\r?\n/)[2]?.trim() ?? ''
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/**
 * Whether `received` (the first bytes a peer sent: its nonce, then its first ciphertext) decrypts
 * with `key` to multistream-select's header. undefined until enough bytes have arrived.
 */
export function holdsOurKey (received: Uint8Array, key: Uint8Array): boolean | undefined {
  if (received.length < NONCE_BYTES + MULTISTREAM_HEADER.length) return undefined
  const cipher = xsalsa20(received.subarray(0, NONCE_BYTES), key)
  try {
    const plain = cipher.update(received.slice(NONCE_BYTES, NONCE_BYTES + MULTISTREAM_HEADER.length))
    return plain.every((b, i) => b === MULTISTREAM_HEADER[i])
  } finally {
    cipher.finalize()
  }
}

/** `inner` (pnet), plus a report on the node's events whenever the remote turns out to hold another key. */
export function checkingMeshKey (inner: ProtectorFactory, key: Uint8Array): ProtectorFactory {
  return components => {
    const protector = inner(components)
    return {
      async protect (connection: MessageStream, options) {
        watchFirstBytes(connection, key, () => {
          const c = connection as unknown as { remoteAddr?: { toString: () => string }, direction?: string }
          const detail: MeshKeyMismatch = { remoteAddr: c.remoteAddr?.toString() ?? 'unknown', direction: c.direction === 'outbound' ? 'outbound' : 'inbound' }
          components?.events?.safeDispatchEvent?.(MESH_KEY_MISMATCH_EVENT, { detail })
        })
        return await protector.protect(connection, options)
      },
    }
  }
}

/**
 * Wraps the raw connection's onData (which its socket calls for every chunk, in wire order)
 * until the first nonce and header bytes have been seen; the data itself flows on unchanged.
 * Installed before pnet reads anything, so no chunk can slip past it.
 */
function watchFirstBytes (connection: object, key: Uint8Array, onMismatch: () => void): void {
  const conn = connection as { onData?: (data: Uint8Array | { subarray: () => Uint8Array }) => void }
  const onData = conn.onData
  if (typeof onData !== 'function') return
  const wanted = NONCE_BYTES + MULTISTREAM_HEADER.length
  let seen = new Uint8Array(0)
  conn.onData = function (this: unknown, data) {
    try {
      const bytes = data instanceof Uint8Array ? data : data.subarray()
      const next = new Uint8Array(seen.length + Math.min(bytes.length, wanted - seen.length))
      next.set(seen)
      next.set(bytes.subarray(0, next.length - seen.length), seen.length)
      seen = next
      const verdict = holdsOurKey(seen, key)
      if (verdict !== undefined) {
        conn.onData = onData
        if (!verdict) onMismatch()
      }
    } catch {
      conn.onData = onData // never let the check break a connection
    }
    onData.call(this, data)
  }
}
