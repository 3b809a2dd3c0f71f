import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Command } from 'commander'
import { buildProgram } from '../../src/node/cli/cli.js'
import type { StartOptions } from '../../src/node/cli/cmd-start.js'
import { UsageError } from '../../src/node/cli/options.js'
import { GROUPS, readStartConfig, resolveStartOptions } from '../../src/node/cli/start-options.js'

// `meshwork start --config FILE`: the flags' own schemas check the file, flags win over it.

const dir = mkdtempSync(join(tmpdir(), 'meshwork-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = (doc: unknown): string => {
  const path = join(dir, `c${n++}.json`)
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc))
  return path
}

async function startOptions (...args: string[]): Promise<StartOptions> {
  const program = buildProgram()
  let out: StartOptions | undefined
  program.commands.find(c => c.name() === 'start')!.action((opts: { config?: string }, cmd: Command) => {
    out = resolveStartOptions(cmd, opts.config !== undefined ? readStartConfig(opts.config) : {})
  })
  await program.parseAsync(['node', 'meshwork', 'start', ...args])
  return out!
}
const failure = async (...args: string[]): Promise<Error> => await startOptions(...args).then(() => { throw new Error('no error') }, (e: Error) => e)

describe('start --config', () => {
  it('reads the options, in units or old raw numbers, and flags win over it', async () => {
    const path = file({ name: 'from-file', port: 7100, 'scratch-retention': '2d', 'max-message-bytes': 1_048_576, mdns: false, label: { zone: 'b', gpu: '1' }, 'allow-network': true, bootstrap: ['/ip4/10.0.0.5/tcp/7071'], 'max-cpu': '50%', 'log-level': 'warn' })
    const o = await startOptions('--config', path, '--port', '7200', '--label', 'zone=c')
    expect(o).toMatchObject({ name: 'from-file', port: 7200, scratchRetentionMs: 172_800_000, maxMessageBytes: 1_048_576, mdns: false, label: { zone: 'c', gpu: '1' }, allowNetwork: true, bootstrap: ['/ip4/10.0.0.5/tcp/7071'], maxCpu: 0.5, logLevel: 'warn' })
    expect(o.apiPort).toBe(7070) // a default where neither says
  })

  it('a flag by its old name wins over the file too', async () => {
    const o = await startOptions('--config', file({ 'dead-after': '10s' }), '--dead-after-ms', '6000')
    expect(o.deadAfterMs).toBe(6000)
  })

  it.each([
    [{ 'scratch-retension': '2d' }, /unknown key "scratch-retension" \(did you mean "scratch-retention"\?\)/],
    [{ frobnicate: 1 }, /unknown key "frobnicate"; the keys are the flags of `meshwork start --help`/],
    [{ port: 'eighty' }, /: "port" must be an integer from 0 to 65535, got "eighty"$/],
    [{ 'max-message-size': '12 parsecs' }, /: "max-message-size" must be a size from 64KiB to 2GiB/],
    [{ mdns: 'no' }, /: "mdns" must be true or false, got "no"$/],
    [{ label: ['zone=b'] }, /: "label" must look like KEY=VALUE/],
    [{ 'task-timeout': '1m', 'task-timeout-ms': 5000 }, /give "task-timeout" or "task-timeout-ms", not both/],
    [[1, 2], /must hold a JSON object of options/],
    ['{ "port": 1,', /is not valid JSON/],
  ])('refuses %j with an error naming the key', async (doc, message) => {
    const path = file(doc)
    const err = await failure('--config', path)
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toContain(`--config ${path}`)
    expect(err.message).toMatch(message)
  })

  it('says when the file is missing', async () => {
    expect((await failure('--config', join(dir, 'none.json'))).message).toMatch(/^--config: cannot read .*none\.json: no such file$/)
  })
})

describe('start --help', () => {
  it('groups the options under headings, with old names hidden', () => {
    const help = buildProgram().commands.find(c => c.name() === 'start')!.helpInformation()
    const at = (text: string): number => help.indexOf(text)
    for (const heading of Object.values(GROUPS)) expect(help).toContain(`\n${heading}\n`)
    expect(at('--name <name>')).toBeGreaterThan(at(GROUPS.node))
    expect(at('--scratch-retention <duration>')).toBeGreaterThan(at(GROUPS.mesh))
    expect(at('--allow-network')).toBeGreaterThan(at(GROUPS.security))
    expect(at('--max-message-size <size>')).toBeGreaterThan(at(GROUPS.limits))
    expect(help).toMatch(/\(default:\s+7d\)/)
    expect(help).toMatch(/\(default:\s+256MiB\)/)
    expect(help).not.toContain('--scratch-retention-ms')
  })
})
