import { describe, expect, it } from 'vitest'
import { World } from '../../sim/world.js'
import { spec } from './helpers.js'

// A partition cuts 30% of a 20-node p2p mesh off for 7 s. Every node is an observer at this
// size (full gossip). After the heal, every view must show every peer alive again within
// three publish rounds: a dead peer needs its next vector, a suspected one a resent notice,
// a refutation and the refuted vector.

const HEAL_MS = 12_000
const ROUNDS_MAX = 3

describe('partition and heal', () => {
  it('gossip converges within the expected number of rounds', () => {
    const s = spec('p2p', 20, 'cpu', { tasks: 800, faults: `partition@5s-${HEAL_MS / 1000}s:0.3` })
    const w = new World(s)
    const publishMs = s.cfg.protocol.publishIntervalMs
    let sawSplit = false
    let convergedAtMs: number | undefined
    const allAlive = (): boolean => w.nodes.every(o => !o.up || o.membership === undefined ||
      w.nodes.every(p => p === o || !p.up || o.membership!.peer(p.id)?.status === 'alive'))
    const probe = (): void => {
      const now = w.sim.nowMs
      if (now < HEAL_MS) {
        if (!allAlive()) sawSplit = true
      } else if (convergedAtMs === undefined && allAlive()) {
        convergedAtMs = now
        return
      }
      if (now < HEAL_MS + 10 * publishMs) w.sim.after(50, probe)
    }
    w.sim.at(4000, probe)
    w.run()
    expect(sawSplit).toBe(true)
    expect(convergedAtMs).toBeDefined()
    const rounds = (convergedAtMs! - HEAL_MS) / publishMs
    expect(rounds).toBeLessThanOrEqual(ROUNDS_MAX)
    expect(w.ledger.violations).toEqual([])
  })
})
