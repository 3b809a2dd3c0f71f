import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { addSimOptions, SimUsageError, simOptionsFrom } from './cli-args.js'
import { FaultSpecError } from './faults.js'
import { simCommand } from './command.js'

// node dist/sim/cli.js [options] (what `npm run sim --` runs): the same options, help and
// errors as `meshwork sim` — see cli-args.ts and sim/README.md.
export { simCommand, type SimOptions, type SimOutcome } from './command.js'

async function main (): Promise<void> {
  const program = addSimOptions(new Command('meshwork sim'))
    .description('Run the deterministic simulator: p2p vs master-slave, sync-db and state-daemon (see sim/README.md).')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'meshwork: ')) })
    .exitOverride()
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = (await simCommand(simOptionsFrom(opts))).exitCode
    })
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    if (err instanceof SimUsageError || err instanceof FaultSpecError) {
      process.stderr.write(`meshwork: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
