import { z } from 'zod'
import { StateVectorSchema } from './state-vector.js'

// Messages on the membership gossip topic. Every message is parsed here before the
// core acts on it; anything else is dropped and counted.

export const MEMBERSHIP_TOPIC = 'meshwork/membership/1'
export const MAX_GOSSIP_MESSAGE_BYTES = 64 * 1024

export const VectorMessageSchema = z.object({ t: z.literal('vector'), v: StateVectorSchema }).strict()

/** "I have not heard from `peerId` at `incarnation`": lets the suspect refute it. */
export const SuspectMessageSchema = z.object({
  t: z.literal('suspect'),
  peerId: z.string().min(1).max(128),
  incarnation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
}).strict()

export const GossipMessageSchema = z.discriminatedUnion('t', [VectorMessageSchema, SuspectMessageSchema])
export type GossipMessage = z.infer<typeof GossipMessageSchema>

export type DecodeResult = { ok: true, message: GossipMessage } | { ok: false, reason: string }

const decoder = new TextDecoder('utf-8', { fatal: true })

export function decodeGossip (data: Uint8Array, maxBytes = MAX_GOSSIP_MESSAGE_BYTES): DecodeResult {
  if (data.byteLength > maxBytes) return { ok: false, reason: `message of ${data.byteLength} bytes exceeds ${maxBytes}` }
  let json: unknown
  try {
    json = JSON.parse(decoder.decode(data))
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
  const parsed = GossipMessageSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: `invalid message: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}` }
  }
  return { ok: true, message: parsed.data }
}

const encoder = new TextEncoder()
export function encodeGossip (message: GossipMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message))
}
