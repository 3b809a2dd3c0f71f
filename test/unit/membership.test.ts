import { describe, expect, it } from 'vitest'
import { Membership, type MembershipEffect } from '../../src/gossip/membership.js'
import { decodeGossip, encodeGossip, type GossipMessage } from '../../src/gossip/messages.js'
import { metrics, vector } from '../helpers/vectors.js'

const enc = (m: GossipMessage) => encodeGossip(m)
const published = (effects: MembershipEffect[]): GossipMessage[] =>
  effects.flatMap(e => e.type === 'publish' ? [(decodeGossip(e.data) as { ok: true, message: GossipMessage }).message] : [])
const statusOf = (m: Membership, id: string) => m.peer(id)?.status

function node (peerId = 'A', incarnation = 100) {
  return new Membership({ peerId, incarnation, metrics: metrics() })
}

describe('publishing', () => {
  it('publishes its vector on the first tick and then once per interval', () => {
    const m = node()
    const first = published(m.step({ type: 'tick' }, 0))
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ t: 'vector', v: { peerId: 'A', incarnation: 100, version: 1, status: 'alive' } })
    expect(published(m.step({ type: 'tick' }, 500))).toHaveLength(0)
    const second = published(m.step({ type: 'tick' }, 1000))
    expect(second[0]).toMatchObject({ v: { version: 2 } })
  })

  it('publishes at once when state changes, but not for CPU noise, and spaces bursts', () => {
    const m = node()
    m.step({ type: 'tick' }, 0)
    expect(published(m.step({ type: 'metrics', metrics: metrics({ cpuLoad: 0.5 }) }, 200))).toHaveLength(0)
    const now = published(m.step({ type: 'metrics', metrics: metrics({ cpuLoad: 0.5, accepting: false }) }, 300))
    expect(now[0]).toMatchObject({ v: { accepting: false, cpuLoad: 0.5 } })
    // A second change 10 ms later waits for the gap, then goes out on the next tick.
    expect(published(m.step({ type: 'metrics', metrics: metrics({ accepting: true }) }, 310))).toHaveLength(0)
    expect(published(m.step({ type: 'tick' }, 350))).toHaveLength(0)
    expect(published(m.step({ type: 'tick' }, 400))[0]).toMatchObject({ v: { accepting: true } })
  })
})

describe('publishing load', () => {
  it('publishes at once when a node turns busy, full or idle, not for each task in between', () => {
    const m = node()
    m.step({ type: 'metrics', metrics: metrics({ slotsTotal: 8, slotsFree: 8 }) }, 0)
    m.step({ type: 'tick' }, 0)
    const at = (ms: number, slotsFree: number) => published(m.step({ type: 'metrics', metrics: metrics({ slotsTotal: 8, slotsFree, runningTasks: 8 - slotsFree }) }, ms))
    expect(at(600, 7)[0]).toMatchObject({ v: { slotsFree: 7 } }) // idle → busy
    expect(at(800, 6)).toHaveLength(0)
    expect(at(900, 3)).toHaveLength(0)
    expect(at(1000, 0)).toHaveLength(0) // busy → full, but the last vector went out only 400 ms ago:
    expect(published(m.step({ type: 'tick' }, 1050))).toHaveLength(0)
    expect(published(m.step({ type: 'tick' }, 1100))[0]).toMatchObject({ v: { slotsFree: 0 } }) // 500 ms after it
    expect(at(1700, 1)[0]).toMatchObject({ v: { slotsFree: 1 } }) // full → busy
    expect(at(1800, 5)).toHaveLength(0)
    expect(published(m.step({ type: 'tick' }, 2700))[0]).toMatchObject({ v: { slotsFree: 5 } }) // on the interval
    expect(at(3300, 8)[0]).toMatchObject({ v: { slotsFree: 8, runningTasks: 0 } }) // busy → idle
  })

  it('a change of state other than load still goes out after the short gap', () => {
    const m = node()
    m.step({ type: 'tick' }, 0)
    expect(published(m.step({ type: 'metrics', metrics: metrics({ slotsFree: 1 }) }, 600))).toHaveLength(1)
    expect(published(m.step({ type: 'metrics', metrics: metrics({ slotsFree: 0 }) }, 650))).toHaveLength(0)
    expect(published(m.step({ type: 'metrics', metrics: metrics({ slotsFree: 0, accepting: false }) }, 700))[0]).toMatchObject({ v: { accepting: false, slotsFree: 0 } })
  })
})

describe('merge rules', () => {
  it('adds a new peer and replaces its vector only with a newer one', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { version: 5, cpuLoad: 0.5 }) }) }, 0)
    expect(m.peer('B')?.vector.cpuLoad).toBe(0.5)
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { version: 4, cpuLoad: 0.9 }) }) }, 10)
    expect(m.peer('B')?.vector.cpuLoad).toBe(0.5)
    expect(m.peer('B')?.lastHeardMs).toBe(0)
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { version: 6, cpuLoad: 0.7 }) }) }, 20)
    expect(m.peer('B')?.vector.cpuLoad).toBe(0.7)
    // A higher incarnation wins even with a lower version (the peer restarted).
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 2, version: 1, cpuLoad: 0.1 }) }) }, 30)
    expect(m.peer('B')?.vector).toMatchObject({ incarnation: 2, version: 1, cpuLoad: 0.1 })
  })

  it('lists itself first in its view', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    expect(m.peers().map(p => [p.vector.peerId, p.status])).toEqual([['A', 'alive'], ['B', 'alive']])
  })
})

describe('failure detection', () => {
  it('alive → suspect → dead on silence, at the configured times', () => {
    const m = new Membership({ peerId: 'A', incarnation: 1, metrics: metrics() }, { suspectAfterMs: 2000, deadAfterMs: 4000 })
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    const ticks = (from: number, to: number): void => { for (let t = from; t <= to; t += 100) m.step({ type: 'tick' }, t) }
    ticks(100, 1900)
    m.step({ type: 'tick' }, 1999)
    expect(statusOf(m, 'B')).toBe('alive')
    const atSuspect = m.step({ type: 'tick' }, 2000)
    expect(statusOf(m, 'B')).toBe('suspect')
    expect(atSuspect).toContainEqual({ type: 'peerStatus', peerId: 'B', status: 'suspect', previous: 'alive' })
    expect(published(atSuspect)).toContainEqual({ t: 'suspect', peerId: 'B', incarnation: 1 })
    ticks(2100, 3900)
    m.step({ type: 'tick' }, 3999)
    expect(statusOf(m, 'B')).toBe('suspect')
    expect(m.step({ type: 'tick' }, 4000)).toContainEqual({ type: 'peerStatus', peerId: 'B', status: 'dead', previous: 'suspect' })
  })

  it('keeps a peer alive while it keeps publishing', () => {
    const m = node()
    for (let t = 0; t <= 20_000; t += 1000) {
      m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { version: 1 + t / 1000 }) }) }, t)
      m.step({ type: 'tick' }, t + 900)
      expect(statusOf(m, 'B')).toBe('alive')
    }
  })

  it('a dead peer that restarts (higher incarnation) is alive again', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    m.step({ type: 'tick' }, 10_000)
    expect(statusOf(m, 'B')).toBe('dead')
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 9 }) }) }, 11_000)
    expect(statusOf(m, 'B')).toBe('alive')
  })

  it('a pause of this node is not held against its peers; a peer that stays silent after it still dies', () => {
    const m = new Membership({ peerId: 'A', incarnation: 1, metrics: metrics() }, { suspectAfterMs: 2000, deadAfterMs: 4000 })
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    m.step({ type: 'tick' }, 100)
    // A is SIGSTOPped for 5 s: its next tick comes at 5100. Without the credit B would be dead.
    const resumed = m.step({ type: 'tick' }, 5100)
    expect(resumed).toContainEqual({ type: 'stalled', gapMs: 5000 })
    expect(statusOf(m, 'B')).toBe('alive')
    // Had B really died meanwhile, its silence counts from the resume: suspect 2 s later, dead 4 s later.
    for (let t = 5200; t <= 6900; t += 100) m.step({ type: 'tick' }, t)
    expect(statusOf(m, 'B')).toBe('alive')
    m.step({ type: 'tick' }, 7000)
    expect(statusOf(m, 'B')).toBe('suspect')
    for (let t = 7100; t <= 9000; t += 100) m.step({ type: 'tick' }, t)
    expect(statusOf(m, 'B')).toBe('dead')
  })

  it('liveBoot: a suspect peer still counts for failover, a dead one does not', () => {
    const m = new Membership({ peerId: 'A', incarnation: 1, metrics: metrics() }, { suspectAfterMs: 2000, deadAfterMs: 4000 })
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { bootId: 'b1' }) }) }, 0)
    expect(m.liveBoot('B')).toBe('b1')
    for (let t = 100; t <= 2000; t += 100) m.step({ type: 'tick' }, t)
    expect(statusOf(m, 'B')).toBe('suspect')
    expect(m.liveBoot('B')).toBe('b1')
    for (let t = 2100; t <= 4000; t += 100) m.step({ type: 'tick' }, t)
    expect(statusOf(m, 'B')).toBe('dead')
    expect(m.liveBoot('B')).toBeUndefined()
    expect(m.liveBoot('nobody')).toBeUndefined()
  })

  it('regular ticks never count as a stall', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    const effects = []
    for (let t = 100; t <= 10_000; t += 100) effects.push(...m.step({ type: 'tick' }, t))
    expect(effects.some(e => e.type === 'stalled')).toBe(false)
    expect(statusOf(m, 'B')).toBe('dead')
  })

  it('forgets dead peers after forgetAfterMs', () => {
    const m = new Membership({ peerId: 'A', incarnation: 1, metrics: metrics() }, { forgetAfterMs: 60_000 })
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    m.step({ type: 'tick' }, 5000)
    m.step({ type: 'tick' }, 64_999)
    expect(statusOf(m, 'B')).toBe('dead')
    m.step({ type: 'tick' }, 65_000)
    expect(m.peer('B')).toBeUndefined()
  })
})

describe('suspicion and refutation', () => {
  it('a node that hears itself suspected bumps its incarnation and publishes at once', () => {
    const m = node('A', 100)
    m.step({ type: 'tick' }, 0)
    const effects = m.step({ type: 'message', from: 'B', data: enc({ t: 'suspect', peerId: 'A', incarnation: 100 }) }, 50)
    expect(effects).toContainEqual({ type: 'refuted', incarnation: 101 })
    expect(published(effects)[0]).toMatchObject({ t: 'vector', v: { peerId: 'A', incarnation: 101 } })
  })

  it('ignores a suspicion of an older incarnation', () => {
    const m = node('A', 100)
    expect(m.step({ type: 'message', from: 'B', data: enc({ t: 'suspect', peerId: 'A', incarnation: 99 }) }, 0)).toEqual([])
  })

  it('adopts a gossiped suspicion, cleared only by a higher incarnation', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 5 }) }) }, 0)
    m.step({ type: 'message', from: 'C', data: enc({ t: 'suspect', peerId: 'B', incarnation: 5 }) }, 10)
    expect(statusOf(m, 'B')).toBe('suspect')
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 5, version: 2 }) }) }, 20)
    expect(statusOf(m, 'B')).toBe('suspect')
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 6, version: 3 }) }) }, 30)
    expect(statusOf(m, 'B')).toBe('alive')
  })

  it('a suspect that is still heard directly is never declared dead by us', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 5 }) }) }, 0)
    m.step({ type: 'message', from: 'C', data: enc({ t: 'suspect', peerId: 'B', incarnation: 5 }) }, 10)
    for (let t = 1000; t < 20_000; t += 1000) {
      m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { incarnation: 5, version: t }) }) }, t)
      m.step({ type: 'tick' }, t + 500)
    }
    expect(statusOf(m, 'B')).toBe('suspect')
  })
})

describe('leave', () => {
  it('a leaving node publishes status left once and then stays quiet', () => {
    const m = node()
    m.step({ type: 'tick' }, 0)
    expect(published(m.step({ type: 'leave' }, 100))[0]).toMatchObject({ t: 'vector', v: { status: 'left', version: 2 } })
    expect(published(m.step({ type: 'tick' }, 5000))).toEqual([])
    expect(m.peers()[0]?.status).toBe('left')
  })

  it('peers mark a leaving node left at once', () => {
    const m = node()
    m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    const effects = m.step({ type: 'message', from: 'B', data: enc({ t: 'vector', v: vector('B', { version: 2, status: 'left' }) }) }, 10)
    expect(effects).toContainEqual({ type: 'peerStatus', peerId: 'B', status: 'left', previous: 'alive' })
    m.step({ type: 'tick' }, 10_000)
    expect(statusOf(m, 'B')).toBe('left')
  })
})

describe('bad input is dropped and counted, never thrown', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['not JSON', new TextEncoder().encode('{nope'), /not UTF-8 JSON/],
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe, 0x00]), /not UTF-8 JSON/],
    ['unknown type', new TextEncoder().encode('{"t":"hello"}'), /invalid message/],
    ['missing field', enc({ t: 'vector', v: { ...vector('B'), cpuLoad: undefined } } as unknown as GossipMessage), /cpuLoad/],
    ['out of range', enc({ t: 'vector', v: vector('B', { cpuLoad: 7 }) }), /cpuLoad/],
    ['extra field', new TextEncoder().encode(JSON.stringify({ t: 'vector', v: { ...vector('B'), evil: 1 } })), /invalid message/],
    ['oversized', new Uint8Array(70 * 1024), /exceeds/],
  ]
  for (const [name, data, reason] of cases) {
    it(name, () => {
      const m = node()
      const effects = m.step({ type: 'message', from: 'B', data }, 0)
      expect(effects).toHaveLength(1)
      expect(effects[0]).toMatchObject({ type: 'dropped', from: 'B' })
      expect((effects[0] as { reason: string }).reason).toMatch(reason)
      expect(m.droppedMessages).toBe(1)
      expect(m.peer('B')).toBeUndefined()
    })
  }

  it('drops a vector that claims another peer id', () => {
    const m = node()
    const effects = m.step({ type: 'message', from: 'EVIL', data: enc({ t: 'vector', v: vector('B') }) }, 0)
    expect(effects[0]).toMatchObject({ type: 'dropped', reason: expect.stringMatching(/claims peer B but was signed by EVIL/) })
    expect(m.peer('B')).toBeUndefined()
  })
})
