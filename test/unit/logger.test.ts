import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

// Node logs: JSON lines for machines, a readable line per event on a terminal (--log-format).
const logger = pathToFileURL(fileURLToPath(new URL('../../dist/src/node/host/logger.js', import.meta.url))).href

function logOnce (format: string): string {
  const code = `import { createLogger } from '${logger}'; createLogger('info', {}, '${format}').info({ jobId: 'j1' }, 'job done')`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 })
  expect(r.status, r.stderr).toBe(0)
  return r.stderr
}

describe('node logs', () => {
  it('json: one pino JSON object per line, with the epoch time', () => {
    const line = JSON.parse(logOnce('json').trim()) as Record<string, unknown>
    expect(line).toMatchObject({ level: 30, msg: 'job done', jobId: 'j1' })
    expect(typeof line.time).toBe('number')
  })

  it('pretty: a local time, the level and the message, then the fields', () => {
    const text = logOnce('pretty')
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: job done\n/)
    expect(text).toMatch(/jobId: "j1"/)
    expect(text).not.toMatch(/"level"/)
  })
})
