import { describe, expect, it } from 'vitest'
import { buildProgram } from '../../src/node/cli/cli.js'
import { runCli } from '../helpers/cli.js'

// Every command answers --help with examples (the real bin, as a user runs it).

describe('meshwork --help', () => {
  const commands = buildProgram().commands.map(c => c.name()).filter(n => n !== 'help')

  it('lists every command', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const name of commands) expect(r.stdout).toContain(name)
    expect(commands).toEqual(expect.arrayContaining(['start', 'status', 'submit', 'jobs', 'result', 'cancel', 'top', 'dashboard', 'demo', 'sim']))
  })

  it('gives examples on every command', async () => {
    const results = await Promise.all(commands.map(async name => ({ name, r: await runCli([name, '--help']) })))
    for (const { name, r } of results) {
      expect(r.code, `${name} --help: ${r.stderr}`).toBe(0)
      expect(r.stdout, `${name} --help`).toContain('Examples:')
      expect(r.stdout, `${name} --help`).toContain(`meshwork ${name}`)
    }
  })
})

describe('meshwork dashboard', () => {
  it("prints the link with the token from the node's data dir, as every client command finds it", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'meshwork-dash-'))
    try {
      writeFileSync(join(dir, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:7999', pid: 1, peerId: 'p' }))
      writeFileSync(join(dir, 'api.token'), 'a'.repeat(43) + '\n', { mode: 0o600 })
      const env = { ...process.env }
      delete env.MESHWORK_TOKEN
      const r = await runCli(['dashboard', '--data-dir', dir, '--json'], 60_000, env)
      expect(r.code, r.stderr).toBe(0)
      const { url } = JSON.parse(r.stdout) as { url: string }
      expect(url.startsWith('http://127.0.0.1:7999/')).toBe(true)
      // In the fragment, which the browser never sends to a server.
      expect(new URL(url).search).toBe('')
      expect(new URLSearchParams(new URL(url).hash.slice(1)).get('token')).toBe('a'.repeat(43))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
