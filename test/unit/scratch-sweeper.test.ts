import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { scratchDirExpired, ScratchSweeper, type ScratchJobDir } from '../../src/node/daemon/scratch-sweeper.js'
import { createLogger } from '../../src/node/host/logger.js'

const DAY = 24 * 3_600_000
const NOW = Date.parse('2026-11-27T12:00:00Z')

describe('scratchDirExpired', () => {
  const dirs = [
    { codeHash: 'h1', jobId: 'old', newestMs: NOW - 8 * DAY },
    { codeHash: 'h1', jobId: 'fresh', newestMs: NOW - 1 * DAY },
    { codeHash: 'h2', jobId: 'oldButUsed', newestMs: NOW - 30 * DAY },
  ]
  const used = (h: string, j: string): number | undefined => j === 'oldButUsed' ? NOW - 60_000 : undefined
  const expired = (retentionMs: number, lastUsed: typeof used): ScratchJobDir[] => dirs.filter(d => scratchDirExpired(d, NOW, retentionMs, lastUsed))

  it('picks the dirs untouched and unused for the retention time', () => {
    expect(expired(7 * DAY, used).map(d => d.jobId)).toEqual(['old'])
    expect(expired(12 * 3_600_000, used).map(d => d.jobId)).toEqual(['old', 'fresh'])
  })

  it('removes nothing with retention 0 (keep forever)', () => {
    expect(expired(0, () => undefined)).toEqual([])
  })
})

describe('ScratchSweeper on a real dir', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  async function jobDir (codeHash: string, jobId: string, ageMs: number, fileAgeMs = ageMs): Promise<string> {
    const d = path.join(dir as string, codeHash, jobId)
    await mkdir(path.join(d, 'nested'), { recursive: true })
    await writeFile(path.join(d, 'out.jsonl'), '{}\n')
    const at = (ms: number): Date => new Date(NOW - ms)
    await utimes(path.join(d, 'out.jsonl'), at(fileAgeMs), at(fileAgeMs))
    await utimes(path.join(d, 'nested'), at(ageMs), at(ageMs))
    await utimes(d, at(ageMs), at(ageMs))
    return d
  }

  it('removes old job dirs and the code dirs they leave empty, and keeps the rest', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshwork-scratch-'))
    const old = await jobDir('h1', 'old', 8 * DAY)
    const fresh = await jobDir('h1', 'fresh', 1 * DAY)
    const rewritten = await jobDir('h1', 'rewritten', 8 * DAY, 1 * DAY) // its output file changed lately
    const used = await jobDir('h1', 'used', 8 * DAY)
    const lone = await jobDir('h2', 'lone', 9 * DAY)
    const forgotten: string[] = []
    const sweeper = new ScratchSweeper({
      dir,
      retentionMs: 7 * DAY,
      lastUsedMs: (h, j) => j === 'used' ? NOW - 1000 : undefined,
      onRemoved: (h, j) => forgotten.push(`${h}/${j}`),
      log: createLogger('silent'),
      nowMs: () => NOW,
    })
    expect((await sweeper.sweep()).sort()).toEqual([lone, old].sort())
    expect(forgotten.sort()).toEqual(['h1/old', 'h2/lone'])
    for (const kept of [fresh, rewritten, used]) expect(existsSync(kept)).toBe(true)
    expect(existsSync(path.join(dir, 'h2'))).toBe(false)
    expect(await sweeper.sweep()).toEqual([]) // nothing left to remove
  })

  it('copes with a scratch dir that does not exist yet', async () => {
    const sweeper = new ScratchSweeper({ dir: path.join(os.tmpdir(), 'meshwork-no-such-scratch-dir'), retentionMs: DAY, lastUsedMs: () => undefined, log: createLogger('silent') })
    expect(await sweeper.sweep()).toEqual([])
  })
})
