import { describe, expect, it } from 'vitest'
import { decodeRpc, encodeRpc, type RpcMessage } from '../../src/jobs/wire.js'
import { isBatched, TaskBatcher, unbatch } from '../../src/node/net/rpc/task-batches.js'

const hash = 'ab'.repeat(32)
/** Messages with their results parsed (results arrive as RawJson: their JSON text, unparsed). */
const plain = <T>(m: T): T => JSON.parse(JSON.stringify(m)) as T
type Assign = Extract<RpcMessage, { t: 'task.assign' }>
const assign = (jobId: string, taskIndex: number, o: Partial<Assign> = {}): Assign =>
  ({ t: 'task.assign', jobId, taskIndex, attemptId: `${jobId}:${taskIndex}:1`, term: 1, codeHash: hash, kind: 'function', parts: 9, chunk: { n: taskIndex }, ...o })

/** A batcher whose output is decoded as a peer would: each frame parsed with the wire schema, then unbatched. */
function harness (batchBytesMax?: number) {
  const frames: Array<{ peer: string, message: RpcMessage }> = []
  let wakes = 0
  const batcher = new TaskBatcher((peer, bytes) => {
    const decoded = decodeRpc(bytes)
    if (!decoded.ok) throw new Error(decoded.reason)
    frames.push({ peer, message: decoded.message })
  }, () => { wakes++ }, batchBytesMax)
  const received = (peer: string): RpcMessage[] => frames.filter(f => f.peer === peer).flatMap(f => unbatch(f.message))
  return { batcher, frames, received, wakes: () => wakes }
}

describe('task batches', () => {
  it('carry a turn\'s tasks for one peer and job in one message that unbatches to the same tasks', () => {
    const h = harness()
    const sent = [assign('j1', 0), assign('j1', 1, { tools: ['cc'] }), assign('j1', 2), assign('j2', 0, { kind: 'action', chunk: [1, 'x'] })]
    for (const m of sent) h.batcher.add('P', m)
    expect(h.frames).toEqual([])
    expect(h.wakes()).toBe(1)
    h.batcher.flush()
    // j1 without tools, j1 with tools (a different shared part), j2.
    expect(h.frames.map(f => f.message.t)).toEqual(['task.assigns', 'task.assigns', 'task.assigns'])
    expect(h.received('P').sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
      .toEqual([...sent].sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
    // Nothing held any more: a second flush sends nothing.
    h.batcher.flush()
    expect(h.frames).toHaveLength(3)
  })

  it('carry results and failures of one job together, per peer', () => {
    const h = harness()
    const ok: RpcMessage = { t: 'task.ok', jobId: 'j', taskIndex: 3, attemptId: 'j:3:1', value: { big: [1, 2] }, ms: 2.25 }
    const nul: RpcMessage = { t: 'task.ok', jobId: 'j', taskIndex: 4, attemptId: 'j:4:1', value: null, ms: 0 }
    const failed: RpcMessage = { t: 'task.failed', jobId: 'j', taskIndex: 5, attemptId: 'j:5:2', kind: 'threw', error: 'Error: boom' }
    for (const m of [ok, failed, nul]) if (isBatched(m)) h.batcher.add('C1', m)
    if (isBatched(ok)) h.batcher.add('C2', ok)
    h.batcher.flush()
    expect(h.frames.map(f => [f.peer, f.message.t])).toEqual([['C1', 'task.results'], ['C2', 'task.results']])
    expect(plain(h.received('C1'))).toEqual([ok, nul, failed])
    expect(plain(h.received('C2'))).toEqual([ok])
  })

  it('are flushed before another message to the same peer, so an abort never overtakes its assign', () => {
    const h = harness()
    h.batcher.add('P', assign('j', 0))
    h.batcher.add('Q', assign('j', 1))
    h.batcher.flushPeer('P') // what the daemon does before sending P a task.abort
    expect(h.frames.map(f => f.peer)).toEqual(['P'])
    h.batcher.flush()
    expect(h.frames.map(f => f.peer)).toEqual(['P', 'Q'])
  })

  it('are cut at the byte limit; a single bigger task goes alone', () => {
    const h = harness(1000)
    const big = 'x'.repeat(5000)
    for (let i = 0; i < 100; i++) h.batcher.add('P', assign('j', i))
    h.batcher.add('P', assign('j', 100, { chunk: big }))
    h.batcher.flush()
    const sizes = h.frames.map(f => encodeRpc(f.message).byteLength)
    expect(sizes.length).toBeGreaterThan(2)
    // Every batch but the big task's own stays under the limit (plus the shared fields).
    for (const size of sizes.slice(0, -1)) expect(size).toBeLessThan(1000 + 200)
    expect(h.frames.at(-1)!.message).toMatchObject({ t: 'task.assigns', tasks: [[100, 'j:100:1', big]] })
    expect(h.received('P').map(m => (m as Assign).taskIndex)).toEqual(Array.from({ length: 101 }, (_, i) => i))
  })

  it('leave group attempts whole: a group\'s assign and its result travel as their own messages, in order', () => {
    const h = harness()
    const group = assign('j', 0, { group: [[1, { n: 1 }], [5, { n: 5 }]] })
    const groupOk: RpcMessage = { t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'j:0:1', value: 0, ms: 0.012, group: [[1, 1], [5, 5]] }
    expect(isBatched(group)).toBe(false)
    expect(isBatched(groupOk)).toBe(false)
    expect(isBatched(assign('j', 2))).toBe(true)
    // What the daemon does with a message that is not batched: flush the peer, then encode it alone.
    h.batcher.add('P', assign('j', 2))
    h.batcher.flushPeer('P')
    for (const m of [group, groupOk]) {
      const decoded = decodeRpc(encodeRpc(m))
      expect(plain(decoded)).toEqual({ ok: true, message: m })
    }
    expect(h.received('P')).toEqual([assign('j', 2)])
  })

  it('are refused on the wire when malformed, naming the field', () => {
    const bad = (m: unknown): string => {
      const r = decodeRpc(Buffer.from(JSON.stringify(m)))
      return r.ok ? 'accepted' : r.reason
    }
    expect(bad({ t: 'task.assigns', jobId: 'j', term: 1, codeHash: hash, kind: 'function', parts: 1, tasks: [] })).toMatch(/tasks/)
    expect(bad({ t: 'task.assigns', jobId: 'j', term: 1, codeHash: hash, kind: 'function', parts: 1, tasks: [[-1, 'a', 1]] })).toMatch(/tasks\.0\.0/)
    expect(bad({ t: 'task.results', jobId: 'j', ok: [[0, '', 1, 0.5]], failed: [] })).toMatch(/ok\.0\.1/)
    // Every result says how long its task ran, as a finite number >= 0.
    expect(bad({ t: 'task.results', jobId: 'j', ok: [[0, 'a', 1]], failed: [] })).toMatch(/ok\.0/)
    expect(bad({ t: 'task.results', jobId: 'j', ok: [[0, 'a', 1, -1]], failed: [] })).toMatch(/ok\.0\.3/)
    expect(bad({ t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'a', value: 1 })).toMatch(/ms/)
    expect(bad({ t: 'task.results', jobId: 'j', ok: [], failed: [[0, 'a', 'k'.repeat(65), 'e']] })).toMatch(/failed\.0/)
    // A failure's kind is one of FAILURE_KINDS.
    expect(bad({ t: 'task.failed', jobId: 'j', taskIndex: 0, attemptId: 'a', kind: 'made-up', error: 'e' })).toMatch(/kind/)
    expect(bad({ t: 'task.failed', jobId: 'j', taskIndex: 0, attemptId: 'a', kind: 'threw', error: 'e' })).toBe('accepted')
    // A group names each task by a valid index, carries at least one and at most 1024.
    const groupAssign = { t: 'task.assign', jobId: 'j', taskIndex: 0, attemptId: 'a', term: 1, codeHash: hash, kind: 'function', parts: 9, chunk: 1 }
    expect(bad({ ...groupAssign, group: [[1, 1]] })).toBe('accepted')
    expect(bad({ ...groupAssign, group: [] })).toMatch(/group/)
    expect(bad({ ...groupAssign, group: [[-1, 1]] })).toMatch(/group\.0\.0/)
    expect(bad({ ...groupAssign, group: Array.from({ length: 1025 }, (_, i) => [i + 1, 1]) })).toMatch(/group/)
    expect(bad({ t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'a', value: 1, ms: 0, group: [[1.5, 1]] })).toMatch(/group\.0\.0/)
    expect(bad({ t: 'task.ok', jobId: 'j', taskIndex: 0, attemptId: 'a', value: 1, ms: 0, group: [[1]] })).toMatch(/group\.0/)
  })
})
