import { describe, expect, it } from 'vitest'
import { packResult, packTasks, unpackResult, unpackTasks, type WireResult, type WireTask } from '../../src/node/executor/executor-protocol.js'

const ctxOf = (jobId: string, taskIndex?: number): Record<string, unknown> => ({
  jobId, ...(taskIndex !== undefined ? { taskIndex } : {}), parts: 4, peerId: '12D3KooWPeer', scratchDir: `/scratch/${jobId}`, kind: 'function',
})
const map = (id: string, jobId: string, taskIndex: number, arg: unknown = taskIndex): WireTask =>
  ({ id, op: 'map', modulePath: `/code/${jobId}.mjs`, codeHash: 'a'.repeat(64), arg, ctx: ctxOf(jobId, taskIndex) })

describe('packTasks / unpackTasks', () => {
  it('sends a job\'s shared fields once per run of its tasks, and gets every task back whole', () => {
    const tasks: WireTask[] = [
      map('j1:0:1', 'j1', 0), map('j1:1:1', 'j1', 1, { words: ['a'] }), map('j1:2:1', 'j1', 2, null),
      map('j2:0:1', 'j2', 0), // another job: whole again
      { id: 'j2:reduce', op: 'reduce', modulePath: '/code/j2.mjs', codeHash: 'a'.repeat(64), arg: [1, 2], ctx: ctxOf('j2') },
      { id: 'j1:3:1', op: 'map', modulePath: '/code/j1.mjs', codeHash: 'a'.repeat(64), argBase64: 'AAEC', ctx: ctxOf('j1', 3) },
      { id: 'j1:4:1', op: 'map', modulePath: '/code/j1.mjs', codeHash: 'a'.repeat(64), argBase64: 'AwQF', ctx: ctxOf('j1', 4) },
    ]
    const packed = packTasks(tasks)
    expect(packed.map(p => 'op' in p)).toEqual([true, false, false, true, true, true, false])
    expect(packed[1]).toEqual({ id: 'j1:1:1', arg: { words: ['a'] }, taskIndex: 1 })
    expect(packed[6]).toEqual({ id: 'j1:4:1', argBase64: 'AwQF', taskIndex: 4 })
    // What the child gets went through JSON (the IPC channel's serialisation).
    const unpacked = unpackTasks(JSON.parse(JSON.stringify(packed)))
    expect(unpacked).toEqual(JSON.parse(JSON.stringify(tasks)))
    expect(unpacked[1]?.ctx).not.toBe(unpacked[0]?.ctx)
  })

  it('carries a batch of one job\'s tiny tasks in a fraction of the bytes', () => {
    const tasks = Array.from({ length: 8 }, (_, i) => map(`j1:${i}:1`, 'j1', i, 0))
    expect(JSON.stringify(packTasks(tasks)).length).toBeLessThan(JSON.stringify(tasks).length * 0.3)
  })

  it('sends a task whole when any part of its context differs, not only its index', () => {
    const a = map('j1:0:1', 'j1', 0)
    const b = { ...map('j1:1:1', 'j1', 1), ctx: { ...ctxOf('j1', 1), scratchDir: '/elsewhere' } }
    const c = { ...map('j1:2:1', 'j1', 2), ctx: { ...ctxOf('j1', 2), extra: 1 } }
    const d = { ...map('j1:3:1', 'j1', 3), ctx: ctxOf('j1') } // no index where the previous had one
    const e = { ...map('j1:4:1', 'j1', 4), op: 'split' as const }
    const f = { ...map('j1:5:1', 'j1', 5), codeHash: 'b'.repeat(64) }
    const tasks = [a, b, c, d, e, f]
    const packed = packTasks(tasks)
    expect(packed.every(p => 'op' in p)).toBe(true)
    expect(unpackTasks(packed)).toEqual(tasks)
  })

  it('keeps a map task\'s group when it cuts the task down', () => {
    const tasks: WireTask[] = [map('j1:0:1', 'j1', 0), { ...map('j1:1:1', 'j1', 1), group: [[2, 'two'], [3, null]] }]
    const packed = packTasks(tasks)
    expect(packed[1]).toEqual({ id: 'j1:1:1', arg: 1, taskIndex: 1, group: [[2, 'two'], [3, null]] })
    expect(unpackTasks(JSON.parse(JSON.stringify(packed)))).toEqual(JSON.parse(JSON.stringify(tasks)))
  })

  it('refuses a cut-down task with nothing before it', () => {
    expect(() => unpackTasks([{ id: 'x', arg: 1, taskIndex: 0 }])).toThrow(/first/)
  })
})

describe('packResult / unpackResult', () => {
  it('a success travels as a tuple, its duration to the microsecond; a failure as it is', () => {
    const ok: WireResult = { id: 'j1:0:1', ok: true, json: '{"n":1}', durationMs: 0.012345678 }
    const failed: WireResult = { id: 'j1:1:1', ok: false, kind: 'threw', error: 'boom', stack: 'at x', durationMs: 3.5 }
    const wire = JSON.parse(JSON.stringify([packResult(ok), packResult(failed)]))
    expect(wire[0]).toEqual(['j1:0:1', '{"n":1}', 0.012])
    expect(wire.map(unpackResult)).toEqual([{ ...ok, durationMs: 0.012 }, failed])
  })
})
