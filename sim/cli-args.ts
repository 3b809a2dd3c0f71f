import type { SimOptions } from './command.js'

// argv -> SimOptions for `node dist/sim/cli.js …`. Each error names the flag and the value.

export class SimUsageError extends Error {
  static readonly NAME = 'SimUsageError'
  constructor (message: string) {
    super(message)
    this.name = SimUsageError.NAME
  }
}

const STRING_FLAGS = ['arch', 'sweep', 'workload', 'faults', 'out', 'mode', 'inject', 'policy'] as const
const NUMBER_FLAGS = { nodes: 'nodes', seed: 'seed', tasks: 'tasks', jobs: 'jobs', 'view-peers': 'viewPeers', runs: 'runs' } as const

export const USAGE = `usage: node dist/sim/cli.js [--arch p2p|master-slave|sync-db|state-daemon|all] [--nodes N | --sweep 10,100,1000,10000]
       [--workload tiny|cpu|stragglers|multi|buildfarm|owner] [--faults SPEC] [--seed S] [--out DIR] [--mode normal|dst]
       [--tasks T] [--jobs J] [--view-peers K] [--runs R (dst: seeds S..S+R-1)] [--no-charts] [--inject wrong-result|double-publish]
       [--policy desktop|dedicated|both (owners' machines; default both for --workload owner)]
faults: crash-coordinator@30s,crash-node@10s:2,crash-worker@5s:0.1,leave@20s:1,partition@10s-20s:0.3,loss:0.01,churn:0.001/s,restart:30s

Examples:
  meshwork sim --arch all --nodes 100
  meshwork sim --arch p2p --sweep 10,100,1000 --faults crash-coordinator@30s --seed 7
  meshwork sim --workload owner --nodes 100 --policy both
  meshwork sim --mode dst --runs 20 --seed 1`

export function parseSimArgs (argv: readonly string[]): SimOptions {
  const opts: SimOptions = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') {
      opts.help = true
      continue
    }
    if (arg === '--no-charts') {
      opts.charts = false
      continue
    }
    if (!arg.startsWith('--')) throw new SimUsageError(`unexpected argument "${arg}"\n${USAGE}`)
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined]
    const value = inline ?? argv[++i]
    if (value === undefined) throw new SimUsageError(`--${flag} needs a value\n${USAGE}`)
    if ((STRING_FLAGS as readonly string[]).includes(flag)) {
      (opts as Record<string, unknown>)[flag] = value
    } else if (flag in NUMBER_FLAGS) {
      const n = Number(value)
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new SimUsageError(`--${flag} must be a whole number, got "${value}"`)
      ;(opts as Record<string, unknown>)[NUMBER_FLAGS[flag as keyof typeof NUMBER_FLAGS]] = n
    } else {
      throw new SimUsageError(`unknown flag --${flag}\n${USAGE}`)
    }
  }
  return opts
}
