import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { readMachine } from '../../src/node/host/owner-probe.js'
import { redisVersion } from './redis.js'

// Facts about the machine and the software a run measured, for BENCHMARKS.md.

export interface MachineFacts {
  cores: number
  cpuModel: string
  memoryGiB: number
  node: string
  os: string
  loadAvgBefore: number[]
  /**
   * Share of the cores busy (not idle) over a short window just before the run, from /proc/stat:
   * unlike the load average, which decays over a minute, it does not count work that just ended.
   */
  cpuBusyBefore?: number
  loadAvgAfter?: number[]
  packages: Record<string, string>
  redisServer: string
  git: { commit: string, dirtySrc: number }
  date: string
}

function pkgVersion (root: string, name: string): string {
  try {
    const require = createRequire(join(root, 'package.json'))
    const pkgPath = require.resolve(`${name}/package.json`, { paths: [root] })
    return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version
  } catch {
    try { return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version } catch { return '?' }
  }
}

function git (root: string, args: string[]): string {
  try { return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return '' }
}

/** The share of all cores not idle over the next `ms` (Linux /proc/stat); undefined elsewhere. */
export async function cpuBusyOver (ms: number): Promise<number | undefined> {
  const a = readMachine()
  await new Promise(resolve => setTimeout(resolve, ms))
  const b = readMachine()
  if (a === undefined || b === undefined || b.total <= a.total) return undefined
  return (b.busy - a.busy) / (b.total - a.total)
}

export function machineFacts (root: string): MachineFacts {
  const list = cpus()
  const meshwork = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  const packages: Record<string, string> = { meshwork: meshwork }
  for (const name of ['libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', 'piscina', 'moleculer', 'bullmq', 'ioredis']) packages[name] = pkgVersion(root, name)
  const status = git(root, ['status', '--porcelain', '--', 'src'])
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? '?',
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    os: `${process.platform} ${release()}`,
    loadAvgBefore: loadavg(),
    packages,
    redisServer: redisVersion() ?? 'not installed',
    git: { commit: git(root, ['rev-parse', '--short', 'HEAD']) || '?', dirtySrc: status === '' ? 0 : status.split('\n').length },
    date: new Date().toISOString(),
  }
}
