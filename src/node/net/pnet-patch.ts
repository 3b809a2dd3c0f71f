import { createRequire } from 'node:module'

// @libp2p/pnet encrypts with `xsalsa20` 1.2, whose WebAssembly build copies each update into one
// WebAssembly memory shared by every cipher instance (max ~64 MiB). Each instance keeps its own
// view of that memory; when another instance grows it, the view is detached (length 0), and the
// next update() "grows" the memory again by its whole input size. With a few connections busy
// the memory ratchets up to the maximum and update() throws "WebAssembly.Memory.grow(): Maximum
// memory size exceeded" from an event listener, which kills the node (seen with 3 nodes moving a
// few MB of job input). A single update larger than the maximum fails the same way.
// The wrapper refreshes a detached view first (realloc(0) grows by 0 pages and re-reads the
// buffer), and feeds large inputs in 1 MiB slices: XSalsa20 is a stream cipher whose update()
// keeps its position across calls, so the bytes are the same.

const SLICE_BYTES = 1024 * 1024

interface Cipher { _xor?: { _memory?: unknown, realloc?: (size: number) => void } | null }
interface XSalsa20Ctor { prototype: { update: (this: Cipher, input: Uint8Array, output?: Uint8Array) => Uint8Array, __meshworkSliced?: boolean } }

function refreshView (cipher: Cipher): void {
  const w = cipher._xor
  if (w !== undefined && w !== null && w._memory instanceof Uint8Array && w._memory.length === 0 && typeof w.realloc === 'function') w.realloc(0)
}

let applied = false

export function patchPnetCipher (): void {
  if (applied) return
  applied = true
  const XSalsa20 = createRequire(import.meta.url)('xsalsa20') as XSalsa20Ctor
  const proto = XSalsa20.prototype
  if (proto.__meshworkSliced === true) return
  const update = proto.update
  proto.update = function (this: Cipher, input: Uint8Array, output?: Uint8Array): Uint8Array {
    if (input === undefined || input === null || input.length <= SLICE_BYTES) {
      refreshView(this)
      return update.call(this, input, output)
    }
    const out = output ?? new Uint8Array(input.length)
    for (let at = 0; at < input.length; at += SLICE_BYTES) {
      const end = Math.min(input.length, at + SLICE_BYTES)
      refreshView(this)
      update.call(this, input.subarray(at, end), out.subarray(at, end))
    }
    return out
  }
  proto.__meshworkSliced = true
}
