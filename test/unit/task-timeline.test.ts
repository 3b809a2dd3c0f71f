import { describe, expect, it } from 'vitest'
import { attemptNumber, JobTimelineSchema, TaskTimelines } from '../../src/jobs/task-timeline.js'

describe('task timelines', () => {
  it('records attempts with peers, times, outcomes, retries and backups', () => {
    const t = new TaskTimelines()
    t.begin('j1', 1, 'coord', 3, 0, 1000)
    t.assign('j1', 'j1:0:1@1', 0, 'a', false, 1010)
    t.assign('j1', 'j1:1:1@1', 1, 'b', false, 1011)
    t.assign('j1', 'j1:2:1@1', 2, 'a', false, 1012)
    t.end('j1', 'j1:0:1@1', 'ok', 1100)
    t.end('j1', 'j1:1:1@1', 'failed', 1120, 'error: boom')
    t.assign('j1', 'j1:1:2@1', 1, 'c', false, 1121) // the retry
    t.assign('j1', 'j1:2:2@1', 2, 'b', true, 1500) // a backup of the straggler
    t.end('j1', 'j1:2:2@1', 'ok', 1600)
    t.end('j1', 'j1:2:1@1', 'aborted', 1600) // the original lost the race
    const mid = t.get('j1', 1601)!
    expect(JobTimelineSchema.safeParse(mid).success).toBe(true)
    expect(mid.attempts.map(a => [a.task, a.attempt, a.peer, a.outcome, a.backup])).toEqual([
      [0, 1, 'a', 'ok', false],
      [1, 1, 'b', 'failed', false],
      [2, 1, 'a', 'superseded', false],
      [1, 2, 'c', 'running', false],
      [2, 2, 'b', 'ok', true],
    ])
    expect(mid.attempts[1]!.error).toBe('error: boom')
    expect(mid.attempts[3]!.endMs).toBeUndefined()
    expect(mid.endedAtMs).toBeUndefined()
    t.close('j1', 1700)
    const end = t.get('j1', 1800)!
    expect(end.endedAtMs).toBe(1700)
    expect(end.attempts[3]!.outcome).toBe('aborted')
    expect(end.attempts[3]!.endMs).toBe(1700)
  })

  it('marks the attempts of a worker that is gone as lost', () => {
    const t = new TaskTimelines()
    t.begin('j', 0, 'coord', 2, 0, 0)
    t.assign('j', 'j:0:1', 0, 'a', false, 1)
    t.assign('j', 'j:1:1', 1, 'b', false, 1)
    t.loseAllBut(new Set(['a']), 50)
    const tl = t.get('j', 60)!
    expect(tl.attempts.map(a => a.outcome)).toEqual(['running', 'lost'])
    expect(tl.attempts[1]!.endMs).toBe(50)
    // A late result for the lost attempt changes nothing.
    t.end('j', 'j:1:1', 'ok', 70)
    expect(t.get('j', 80)!.attempts[1]!.outcome).toBe('lost')
  })

  it('stays bounded: the most recent attempts per job, the most recent jobs', () => {
    const t = new TaskTimelines({ attemptsMax: 5, jobsMax: 2 })
    t.begin('j', 0, 'c', 100, 0, 0)
    for (let i = 0; i < 12; i++) t.assign('j', `j:${i}:1`, i, 'p', false, i)
    for (let i = 0; i < 12; i++) t.end('j', `j:${i}:1`, 'ok', 100 + i)
    const tl = t.get('j', 200)!
    expect(tl.attempts.map(a => a.task)).toEqual([7, 8, 9, 10, 11])
    expect(tl.omitted).toBe(7)
    expect(tl.attempts.every(a => a.outcome === 'ok')).toBe(true)
    t.begin('k', 0, 'c', 1, 0, 0)
    t.begin('l', 0, 'c', 1, 0, 0)
    expect(t.has('j')).toBe(false)
    expect(t.has('k') && t.has('l')).toBe(true)
    // Unknown jobs and attempts are ignored.
    t.assign('nope', 'nope:0:1', 0, 'p', false, 0)
    t.end('k', 'k:9:1', 'ok', 1)
    expect(t.get('nope', 0)).toBeUndefined()
    expect(t.get('k', 1)!.attempts).toEqual([])
  })

  it('cuts long error texts and reads attempt numbers from ids', () => {
    const t = new TaskTimelines()
    t.begin('j', 0, 'c', 1, 0, 0)
    t.assign('j', 'j:0:1', 0, 'p', false, 0)
    t.end('j', 'j:0:1', 'failed', 1, 'x'.repeat(5000))
    expect(t.get('j', 2)!.attempts[0]!.error!.length).toBeLessThanOrEqual(201)
    expect(JobTimelineSchema.safeParse(t.get('j', 2)).success).toBe(true)
    expect(attemptNumber('j:3:2')).toBe(2)
    expect(attemptNumber('j:3:7@4')).toBe(7)
    expect(attemptNumber('garbage')).toBe(1)
  })
})
