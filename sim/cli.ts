import { pathToFileURL } from 'node:url'
import { parseSimArgs, SimUsageError } from './cli-args.js'
import { FaultSpecError } from './faults.js'
import { simCommand } from './command.js'

// node dist/sim/cli.js [options] — see USAGE in cli-args.ts and sim/README.md.
export { simCommand, type SimOptions, type SimOutcome } from './command.js'

async function main (): Promise<void> {
  try {
    const outcome = await simCommand(parseSimArgs(process.argv.slice(2)))
    process.exitCode = outcome.exitCode
  } catch (err) {
    if (err instanceof SimUsageError || err instanceof FaultSpecError) {
      process.stderr.write(`meshwork sim: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
