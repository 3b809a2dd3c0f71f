import { describe, expect, it } from 'vitest'
import { buildProgram } from '../../src/node/cli.js'
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
