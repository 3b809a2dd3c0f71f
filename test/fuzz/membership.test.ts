import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Membership, type MembershipEffect, type MembershipEvent } from '../../src/gossip/membership.js'
import { decodeGossip, encodeGossip, type GossipMessage } from '../../src/gossip/messages.js'
import { StateVectorSchema } from '../../src/gossip/state-vector.js'
import { metrics, vector } from '../helpers/vectors.js'
import { CORE_RUNS } from './runs.js'

// The membership core under random histories: valid vectors and suspicions from real and forged
// senders, mixed with random and mutated bytes, metrics and ticks. It never throws, its state
// always satisfies the schemas, every message it cannot use is counted as dropped (one count per
// message, with a `dropped` effect), and a dropped message changes nothing.

const SELF = 'S'
const PEERS = ['A', 'B', 'C']
const sender = fc.constantFrom(SELF, ...PEERS, 'Z')

const validMessage: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc.record({ peer: fc.constantFrom(...PEERS, SELF), incarnation: fc.integer({ min: 0, max: 5 }), version: fc.integer({ min: 0, max: 20 }), left: fc.boolean(), slots: fc.integer({ min: 0, max: 8 }) })
    .map(r => ({ t: 'vector' as const, v: vector(r.peer, { incarnation: r.incarnation, version: r.version, status: r.left ? 'left' : 'alive', slotsFree: r.slots }) })),
  fc.record({ t: fc.constant('suspect' as const), peerId: fc.constantFrom(...PEERS, SELF), incarnation: fc.integer({ min: 0, max: 6 }) }),
)

type Input = { kind: 'valid', from: string, m: GossipMessage } | { kind: 'junk', from: string, data: Uint8Array } | { kind: 'tick', dt: number } | { kind: 'metrics', slots: number } | { kind: 'leave' }

const junk = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 3 }).map(v => new TextEncoder().encode(JSON.stringify(v))),
  fc.tuple(validMessage, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, at, b]) => {
    const bytes = encodeGossip(m)
    const copy = bytes.slice(0, Math.max(1, at % bytes.length))
    copy[copy.length - 1] = b
    return copy
  }),
  fc.tuple(validMessage, fc.jsonValue({ maxDepth: 2 })).map(([m, v]) => new TextEncoder().encode(JSON.stringify(m.t === 'vector' ? { t: 'vector', v: { ...m.v, cpuLoad: v } } : { ...m, incarnation: v }))),
)

const input: fc.Arbitrary<Input> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('valid' as const), from: sender, m: validMessage }), weight: 100 },
  { arbitrary: fc.record({ kind: fc.constant('junk' as const), from: sender, data: junk }), weight: 80 },
  { arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 2000 }) }), weight: 60 },
  { arbitrary: fc.record({ kind: fc.constant('metrics' as const), slots: fc.integer({ min: 0, max: 8 }) }), weight: 20 },
  { arbitrary: fc.constant({ kind: 'leave' as const }), weight: 1 },
)

function snapshot (m: Membership): string {
  return JSON.stringify(m.peers()) + JSON.stringify(PEERS.map(p => m.peer(p)))
}

describe(`membership core under random and mutated gossip (${CORE_RUNS} histories of up to 150 events)`, () => {
  it('never throws, keeps a valid state, counts every unusable message as dropped, and a dropped message changes nothing', () => {
    fc.assert(fc.property(fc.array(input, { minLength: 1, maxLength: 150 }), inputs => {
      const m = new Membership({ peerId: SELF, incarnation: 3, metrics: metrics() }, { publishIntervalMs: 500, suspectAfterMs: 1500, deadAfterMs: 3000, forgetAfterMs: 6000 })
      let now = 0
      let droppedEffects = 0
      for (const inp of inputs) {
        let event: MembershipEvent
        if (inp.kind === 'tick') { now += inp.dt; event = { type: 'tick' } }
        else if (inp.kind === 'metrics') event = { type: 'metrics', metrics: metrics({ slotsFree: inp.slots }) }
        else if (inp.kind === 'leave') event = { type: 'leave' }
        else event = { type: 'message', from: inp.from, data: inp.kind === 'valid' ? encodeGossip(inp.m) : inp.data }
        const before = snapshot(m)
        const droppedBefore = m.droppedMessages
        const effects: MembershipEffect[] = m.step(event, now)
        const dropped = effects.filter(e => e.type === 'dropped').length
        droppedEffects += dropped
        expect(m.droppedMessages - droppedBefore).toBe(dropped)
        if (event.type === 'message') {
          const decodable = decodeGossip(event.data).ok
          if (!decodable) {
            // Undecodable: counted once, and nothing else happens.
            expect(dropped).toBe(1)
            expect(effects).toHaveLength(1)
            expect(snapshot(m)).toBe(before)
          }
          if (dropped > 0) expect(snapshot(m)).toBe(before)
        } else {
          expect(dropped).toBe(0)
        }
        // State invariants.
        const peers = m.peers()
        expect(peers[0]!.vector.peerId).toBe(SELF)
        for (const p of peers) {
          expect(StateVectorSchema.safeParse(p.vector).success).toBe(true)
          expect(['alive', 'suspect', 'dead', 'left']).toContain(p.status)
        }
        for (const p of peers.slice(1)) expect(p.vector.peerId).not.toBe(SELF)
        expect(new Set(peers.map(p => p.vector.peerId)).size).toBe(peers.length)
        for (const e of effects) if (e.type === 'publish') expect(decodeGossip(e.data).ok).toBe(true)
      }
      expect(m.droppedMessages).toBe(droppedEffects)
    }), { numRuns: CORE_RUNS })
  })

  it('a forged vector (signed by one peer, describing another) is always dropped', () => {
    fc.assert(fc.property(fc.constantFrom(...PEERS), fc.constantFrom(...PEERS, SELF), fc.nat({ max: 1000 }), (signer, subject, incarnation) => {
      fc.pre(signer !== subject)
      const m = new Membership({ peerId: SELF, incarnation: 1, metrics: metrics() })
      const effects = m.step({ type: 'message', from: signer, data: encodeGossip({ t: 'vector', v: vector(subject, { incarnation }) }) }, 0)
      expect(effects).toEqual([{ type: 'dropped', from: signer, reason: `vector claims peer ${subject} but was signed by ${signer}` }])
      expect(m.peers()).toHaveLength(1)
    }), { numRuns: CORE_RUNS })
  })
})
