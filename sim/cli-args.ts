import { Command, CommanderError } from 'commander'
import type { SimOptions } from './command.js'

// The options of `meshwork sim` (and `node dist/sim/cli.js`, `npm run sim --`) on commander, like
// every other command: its --help, its errors (`meshwork: unknown option '--bogus'`). Values stay
// strings and whole numbers; simCommand checks what they mean.

export class SimUsageError extends Error {
  static readonly NAME = 'SimUsageError'
  constructor (message: string) {
    super(message)
    this.name = SimUsageError.NAME
  }
}

function whole (flag: string) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new SimUsageError(`${flag} must be a whole number, got "${value}"`)
    return n
  }
}

const EXAMPLES = `
Faults (--faults, comma-separated):
  crash-coordinator@30s, crash-node@10s:2, crash-worker@5s:0.1, leave@20s:1,
  partition@10s-20s:0.3, loss:0.01, churn:0.001/s, restart:30s

Examples:
  meshwork sim --arch all --nodes 100
  meshwork sim --arch p2p --sweep 10,100,1000 --faults crash-coordinator@30s --seed 7
  meshwork sim --workload owner --nodes 100 --policy both
  meshwork sim --mode dst --runs 20 --seed 1

See sim/README.md for the model and the report.`

/** Adds the simulator's options (and examples) to `cmd`. */
export function addSimOptions (cmd: Command): Command {
  return cmd
    .option('--arch <archs>', 'p2p, master-slave, sync-db, state-daemon, a comma list of them, or all (default p2p)')
    .option('--nodes <n>', 'nodes in the simulated mesh (default 100)', whole('--nodes'))
    .option('--sweep <sizes>', 'comma-separated mesh sizes instead of --nodes, e.g. 10,100,1000,10000')
    .option('--workload <name>', 'tiny, cpu, stragglers, multi, buildfarm or owner (default multi)')
    .option('--faults <spec>', 'faults to inject (see below; default none)')
    .option('--seed <s>', 'random seed: the same seed replays the same run (default 1)', whole('--seed'))
    .option('--out <dir>', 'report directory (default sim-report)')
    .option('--mode <mode>', 'normal, or dst (deterministic simulation testing: scenarios from the seed, checkers)')
    .option('--tasks <t>', "total tasks (default: the workload's)", whole('--tasks'))
    .option('--jobs <j>', "total jobs (default: the workload's)", whole('--jobs'))
    .option('--view-peers <k>', "peers an observer's membership tracks at scale (default 1000)", whole('--view-peers'))
    .option('--runs <r>', 'dst: how many seeds, from --seed on (default 1)', whole('--runs'))
    .option('--no-charts', 'write no charts')
    .option('--inject <bug>', 'a deliberate bug for the checkers: wrong-result or double-publish')
    .option('--policy <p>', "owners' machines: desktop, dedicated or both (default both for --workload owner)")
    .addHelpText('after', EXAMPLES)
}

/** commander's parse → SimOptions (only what was given). */
export function simOptionsFrom (opts: Record<string, unknown>): SimOptions {
  const out: Record<string, unknown> = {}
  for (const key of ['arch', 'nodes', 'sweep', 'workload', 'faults', 'seed', 'out', 'mode', 'tasks', 'jobs', 'viewPeers', 'runs', 'inject', 'policy']) {
    if (opts[key] !== undefined) out[key] = opts[key]
  }
  if (opts.charts === false) out.charts = false
  return out as SimOptions
}

/** The simulator's usage text (its --help). */
export function simUsage (): string {
  return addSimOptions(new Command('meshwork sim').description('Run the deterministic simulator.')).helpInformation() + EXAMPLES.trimStart()
}

/** argv (without node and script) → SimOptions; a bad flag or value is a SimUsageError. */
export function parseSimArgs (argv: readonly string[]): SimOptions {
  const cmd = addSimOptions(new Command('meshwork sim'))
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
  let out: SimOptions = {}
  cmd.action((opts: Record<string, unknown>) => { out = simOptionsFrom(opts) })
  try {
    cmd.parse([...argv], { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { help: true }
      throw new SimUsageError(err.message.replace(/^error: /, ''))
    }
    throw err
  }
  return out
}
