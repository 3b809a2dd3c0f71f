import { describe, expect, it } from 'vitest'
import { StateVectorSchema } from '../../src/gossip/state-vector.js'
import { defaultNodeName } from '../../src/node/host/data-dir.js'
import { formatStatus } from '../../src/node/cli/cmd-status.js'
import { parseNodeName, UsageError } from '../../src/node/cli/options.js'
import { renderTop } from '../../src/node/cli/top-view.js'
import { statusView } from '../../src/node/cli/status-view.js'
import { vector } from '../helpers/vectors.js'

// Node names (`meshwork start --name`): in the gossiped state vector, bounded, optional for older peers.

describe('node names', () => {
  it('the state vector takes a name, and none from an older peer', () => {
    expect(StateVectorSchema.safeParse(vector('p1', { name: 'build-3.lan' })).success).toBe(true)
    const { name: _none, ...old } = vector('p1')
    expect(StateVectorSchema.safeParse(old).success).toBe(true)
  })

  it.each([
    ['', 'empty'], ['x'.repeat(65), 'too long'], ['-lead', 'leading dash'], ['a b', 'space'], ['bad\x1b[2J', 'escape'], ['ümlaut', 'non-ASCII'],
  ])('the state vector refuses the name %j (%s)', (name) => {
    expect(StateVectorSchema.safeParse(vector('p1', { name })).success).toBe(false)
  })

  it('--name follows the same rule and names the flag', () => {
    expect(parseNodeName('x'.repeat(64))).toBe('x'.repeat(64))
    expect(() => parseNodeName('a b')).toThrow(UsageError)
    expect(() => parseNodeName('a b')).toThrow(/--name must be 1 to 64 letters/)
  })

  it.each([
    ['build-3', 'build-3'], ['host.example.org', 'host.example.org'], ['my host', 'my-host'], ['--x', 'x'], ['x'.repeat(80), 'x'.repeat(64)], ['***', undefined],
  ])('the default name from hostname %j is %j', (host, name) => {
    expect(defaultNodeName(host)).toBe(name)
  })

  it('status, top and --json show it; a peer without one shows -', () => {
    const view = statusView('p1', [{ vector: vector('12D3KooWAAAAAAAAAAp1', { name: 'alpha' }), status: 'alive' }, { vector: vector('12D3KooWBBBBBBBBBBp2'), status: 'alive' }])
    expect(view.peers[0]?.name).toBe('alpha')
    expect(JSON.parse(JSON.stringify(view)).peers[0].name).toBe('alpha')
    const text = formatStatus(view)
    expect(text.split('\n')[0]).toMatch(/^NODE +NAME +STATUS/)
    expect(text).toMatch(/…AAAAAAp1 +alpha +alive/)
    expect(text).toMatch(/…BBBBBBp2 +- +alive/)
    const top = renderTop({ apiUrl: 'http://x', status: view, jobs: [], nowMs: 0 }, { columns: 200, rows: 40, colour: false, interactive: false })
    expect(top.find(l => l.startsWith('NODE'))).toMatch(/^NODE +NAME +STATUS/)
    expect(top.find(l => l.startsWith('…AAAAAAp1'))).toMatch(/alpha +alive/)
  })
})
