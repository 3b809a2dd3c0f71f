import { describe, expect, it } from 'vitest'
import type { Command } from 'commander'
import { buildProgram } from '../../src/node/cli/cli.js'
import type { StartOptions } from '../../src/node/cli/cmd-start.js'
import { UsageError } from '../../src/node/cli/options.js'
import { resolveStartOptions } from '../../src/node/cli/start-options.js'
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/node/cli/units.js'

// Human units on input and output: durations (ms) and sizes (bytes-iec), the old raw numbers kept.

describe('parseDuration', () => {
  it.each([
    ['7d', 604_800_000], ['604800000', 604_800_000], ['1.5h', 5_400_000], ['500ms', 500], ['30s', 30_000], ['5m', 300_000], [' 2s ', 2000],
    ['7 days', 604_800_000], ['1w', 604_800_000], ['0', 0], [1500, 1500], ['2.5', 3],
    ['', undefined], ['x', undefined], ['7x', undefined], ['-1s', undefined], ['-5', undefined], ['1e3', undefined], ['1h30m', undefined], [null, undefined], [-1, undefined],
  ] as const)('%j → %j', (text, ms) => expect(parseDuration(text)).toBe(ms))

  it('a bare number takes the flag\'s unit', () => expect(parseDuration('10', 's')).toBe(10_000))
})

describe('parseSize', () => {
  it.each([
    ['256MiB', 268_435_456], ['256mib', 268_435_456], ['268435456', 268_435_456], ['1.5 GiB', 1_610_612_736], ['64KiB', 65_536], ['64KB', 64_000], ['1kB', 1000],
    ['2GB', 2e9], ['0', 0], [1024, 1024],
    ['', undefined], ['1k', undefined], ['MiB', undefined], ['-1MiB', undefined], ['12 parsecs', undefined], [true, undefined],
  ] as const)('%j → %j', (text, n) => expect(parseSize(text)).toBe(n))

  it('a bare number takes the flag\'s unit', () => expect(parseSize('512', 'MiB')).toBe(512 * 1024 ** 2))
})

describe('formatting', () => {
  it.each([[604_800_000, '7d'], [3_600_000, '1h'], [90_000, '90s'], [2500, '2.5s'], [150, '150ms'], [0, '0'], [123_456, '2.06m']] as const)('duration %j → %s', (ms, text) => expect(formatDuration(ms)).toBe(text))
  it.each([[268_435_456, '256MiB'], [65_536, '64KiB'], [2 ** 32, '4GiB'], [1000, '1000B'], [1_500_000, '1.4MiB']] as const)('size %j → %s', (n, text) => expect(formatSize(n)).toBe(text))
  it('formats what it parses back to the same value', () => {
    for (const ms of [1000, 2500, 60_000, 604_800_000]) expect(parseDuration(formatDuration(ms))).toBe(ms)
    for (const n of [65_536, 268_435_456, 2 ** 31]) expect(parseSize(formatSize(n))).toBe(n)
  })
})

/** `meshwork start ARGS` parsed as the CLI does, without starting a node. */
async function startOptions (...args: string[]): Promise<StartOptions> {
  const program = buildProgram()
  let out: StartOptions | undefined
  program.commands.find(c => c.name() === 'start')!.action((_o: unknown, cmd: Command) => { out = resolveStartOptions(cmd) })
  await program.parseAsync(['node', 'meshwork', 'start', ...args])
  return out!
}

describe('start flags', () => {
  it('take human units, the old names and their raw numbers', async () => {
    const o = await startOptions('--scratch-retention', '2d', '--max-message-bytes', '1048576', '--memory-limit-mb', '256', '--task-timeout', '10m', '--history-max-size', '1MiB', '--publish-interval-ms', '250')
    expect(o).toMatchObject({ scratchRetentionMs: 172_800_000, maxMessageBytes: 1_048_576, memoryLimitMb: 256, taskTimeoutMs: 600_000, historyMaxBytes: 1_048_576, publishIntervalMs: 250 })
    expect((await startOptions('--memory-limit', '1GiB', '--max-message-size', '1GiB')).memoryLimitMb).toBe(1024)
  })

  it('keep their defaults', async () => {
    const o = await startOptions()
    expect(o).toMatchObject({ port: 7071, apiPort: 7070, mdns: true, scratchRetentionMs: 604_800_000, maxMessageBytes: 268_435_456, memoryLimitMb: 512, publishIntervalMs: 1000, label: {}, sandbox: 'bwrap', policy: 'desktop' })
    expect(o.maxCpu).toBeUndefined()
  })

  it.each([
    [['--scratch-retention', '7x'], /^--scratch-retention must be a duration from 0 to 3650d, .*got "7x"$/],
    [['--max-message-bytes', '12'], /^--max-message-bytes must be a size from 64KiB to 2GiB, .*a bare number: bytes\), got "12"$/],
    [['--memory-limit', '10MiB'], /^--memory-limit must be a size from 32MiB to 1TiB/],
    [['--port', '99999'], /^--port must be an integer from 0 to 65535, got "99999"$/],
    [['--sandbox', 'foo'], /^--sandbox must be bwrap or none, got "foo"$/],
    [['--policy', 'laptop'], /^--policy must be desktop or dedicated, got "laptop"$/],
    [['--dead-after', '1s', '--dead-after-ms', '1000'], /^give --dead-after or its old name --dead-after-ms, not both$/],
  ])('refuse %j, naming the flag', async (args, message) => {
    const err = await startOptions(...args).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message).toMatch(message)
  })
})
