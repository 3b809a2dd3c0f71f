import { describe, expect, it } from 'vitest'
import { formatStatus } from '../../src/node/cli/cmd-status.js'
import { statusView } from '../../src/node/cli/status-view.js'
import { renderTop } from '../../src/node/cli/top-view.js'
import { vector } from '../helpers/vectors.js'

// A dead (or silent too long) node's last CPU, memory and load are not shown as if current.

const clock = { nowMs: 100_000, staleAfterMs: 4500 }
const view = statusView('12D3KooWAAAAAAAAAAself', [
  { vector: vector('12D3KooWAAAAAAAAAAself', { cpuLoad: 0.5 }), status: 'alive' },
  { vector: vector('12D3KooWBBBBBBBBBBlive', { cpuLoad: 0.5 }), status: 'alive', lastHeardMs: 99_000 },
  { vector: vector('12D3KooWCCCCCCCCCCdead', { cpuLoad: 0.5 }), status: 'dead', lastHeardMs: 90_000 },
  { vector: vector('12D3KooWDDDDDDDDDDsusp', { cpuLoad: 0.5 }), status: 'suspect', lastHeardMs: 94_000 },
  { vector: vector('12D3KooWEEEEEEEEEEleft', { cpuLoad: 0.5 }), status: 'left', lastHeardMs: 99_900 },
], clock)
const row = (tail: string) => view.peers.find(p => p.peerId.endsWith(tail))!

describe('stale figures', () => {
  it('--json keeps the fields and marks them stale, with how long ago the peer was heard', () => {
    expect(row('self')).toMatchObject({ stale: false, cpuLoad: 0.5 })
    expect(row('self').heardAgoMs).toBeUndefined()
    expect(row('live')).toMatchObject({ stale: false, heardAgoMs: 1000 })
    expect(row('dead')).toMatchObject({ stale: true, heardAgoMs: 10_000, cpuLoad: 0.5 })
    expect(row('susp')).toMatchObject({ stale: true, heardAgoMs: 6000 }) // suspect past dead-after
    expect(row('left')).toMatchObject({ stale: true })
  })

  it('a suspect heard within dead-after keeps its figures', () => {
    const v = statusView('a', [{ vector: vector('b'), status: 'suspect', lastHeardMs: 97_000 }], clock)
    expect(v.peers[0]?.stale).toBe(false)
  })

  it('status and top print — for stale figures, numbers for current ones', () => {
    const lines = formatStatus(view).split('\n')
    expect(lines.find(l => l.startsWith('…BBBBlive'))).toMatch(/alive +50% +0% +954 MiB/)
    for (const tail of ['dead', 'susp', 'left']) expect(lines.find(l => l.startsWith(`…CCCC${tail}`) || l.startsWith(`…DDDD${tail}`) || l.startsWith(`…EEEE${tail}`))).toMatch(/ +— +— +— +— +— +—$/)
    const top = renderTop({ apiUrl: 'http://x', status: view, jobs: [], nowMs: 0 }, { columns: 200, rows: 40, colour: false, interactive: false })
    expect(top.find(l => l.startsWith('…DDDDsusp'))).toMatch(/suspect +— +— +— +— +0$/)
    expect(top.find(l => l.startsWith('…BBBBlive'))).toMatch(/alive +█████░░░░░  50%/)
  })

  it('an older node answers without `stale`: dead and left peers count as stale', () => {
    const top = renderTop({ apiUrl: 'http://x', status: { self: 'x', peers: [{ ...vector('12D3KooWFFFFFFFFFFdead'), status: 'dead' }] }, jobs: [], nowMs: 0 }, { columns: 200, rows: 40, colour: false, interactive: false })
    expect(top.find(l => l.startsWith('…FFFFdead'))).toMatch(/dead +— +— +— +—/)
  })
})
