import { Command, CommanderError, Option } from 'commander'
import { SOFTWARE_VERSION } from '../../version.js'
import { MeshworkError } from '../../util/errors.js'
import { EXIT } from './exit-codes.js'
import { demoCommand } from './cmd-demo.js'
import { cancelCommand, jobsCommand, resultCommand } from './cmd-jobs.js'
import { submitCommand } from './cmd-submit.js'
import { logsCommand } from './cmd-logs.js'
import { startCommand } from './cmd-start.js'
import { statusCommand } from './cmd-status.js'
import { registerDashboardCommand } from './cmd-dashboard.js'
import { registerTopCommand } from './cmd-top.js'
import { parseIntOption, UsageError } from './options.js'
import { addSimOptions, SimUsageError, simOptionsFrom } from '../../../sim/cli-args.js'
import { addStartOptions, readStartConfig, resolveStartOptions } from './start-options.js'
import { drainCommand } from './cmd-drain.js'
import { initCommand } from './cmd-init.js'

const apiOption = (): Option => new Option('--api <url>', 'control API of the node to talk to (default: the node recorded in --data-dir; the API token comes from that data dir or $MESHWORK_TOKEN)')
const dataDirOption = (): Option => new Option('--data-dir <dir>', 'data dir of the local node: its control URL, API token (api.token) and mesh key (default: $MESHWORK_DATA_DIR or ~/.meshwork)')

export function buildProgram (): Command {
  const program = new Command('meshwork')
    .description('A peer-to-peer compute mesh: identical nodes, gossiped state vectors, a coordinator per job.')
    .version(SOFTWARE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // One prefix for every error: commander's own ("error: unknown option …") too.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'meshwork: ')) })
    .exitOverride()

  program.command('init')
    .description('Create a new mesh key (a private-network pre-shared key) in the data dir; every node of the mesh needs a copy.')
    .addOption(dataDirOption())
    .option('--force', 'replace an existing key (every node of the mesh then needs the new one)')
    .addHelpText('after', `
Examples:
  meshwork init                                    # writes ~/.meshwork/mesh.key (mode 0600)
  scp ~/.meshwork/mesh.key host2:.meshwork/        # then \`meshwork start\` on every machine
  meshwork init --data-dir /tmp/mesh-b --force     # a new key (rotation: see SECURITY.md)`)
    .action(initCommand)

  addStartOptions(program.command('start')
    .description('Run a node and join the mesh (mDNS on the LAN, plus any --bootstrap peers).'))
    .addHelpText('after', `
Security: peers without the node's mesh key cannot connect; the control API listens on 127.0.0.1
only and requires the token in DATA_DIR/api.token (the CLI reads it); task code runs under the
bubblewrap sandbox and the Node permission model (its scratch dir only, no network unless the job
declares it and the node allows it, no processes unless --allow-exec); see SECURITY.md.

Examples:
  meshwork init && meshwork start                  # a new private mesh; copy ~/.meshwork/mesh.key to the others
  meshwork start                                   # join the LAN mesh found by mDNS
  meshwork start --bootstrap /ip4/10.0.0.5/tcp/7071/p2p/12D3KooW… --no-mdns
  meshwork start --port 0 --api-port 0 --data-dir /tmp/node2 --label zone=b
  meshwork start --policy desktop --max-cpu 50 --hours 19:00-07:00 --label gpu=1
  meshwork start --policy dedicated --tools cc,make,python3
  meshwork start --mesh-key /etc/meshwork/mesh.key --allow-exec cc   # build-farm nodes
  meshwork start --scratch-retention 2d --max-message-size 1GiB --task-timeout 10m
  meshwork start --config /etc/meshwork/node.json --log-level debug   # the file's options, this flag over them

Durations take units (500ms, 30s, 5m, 7d), sizes too (64KiB, 256MiB, 2GiB; KiB/MiB/GiB are
powers of 1024, kB/MB/GB of 1000). The old flag names (--scratch-retention-ms, --max-message-bytes,
--memory-limit-mb, ...) still work, their bare numbers in their old units.`)
    .action(async (opts: { config?: string }, cmd: Command) => {
      await startCommand(resolveStartOptions(cmd, opts.config !== undefined ? readStartConfig(opts.config) : {}))
    })

  program.command('status')
    .description('Show the mesh as this node sees it: one row per node.')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .option('--json', 'print { self, peers: [...] } as JSON')
    .addHelpText('after', `
Examples:
  meshwork status
  meshwork status --api http://127.0.0.1:7070 --json`)
    .action(statusCommand)

  program.command('submit')
    .description('Run a job module on the mesh and print its result.')
    .argument('<module>', 'job module (.js/.mjs/.ts) exporting { split, map, reduce } (or kind: "action" without reduce)')
    .option('--input <file>', 'input bytes from a file (split receives a Buffer)')
    .option('--input-json <json>', 'input as a JSON value')
    .option('--input-shared <path>', 'a file or directory at this same path on every node (e.g. NFS): each node reads its splits locally, nothing is uploaded (nodes read it only under their --shared-dir)')
    .option('--parts <n>', 'how many parts split should aim for (ctx.parts)', parseIntOption('--parts', 1, 1_000_000))
    .addOption(new Option('--priority <p>', 'fair-share priority').choices(['high', 'normal', 'low']).default('normal'))
    .option('--detach', 'print the job id and return at once (without it, Ctrl-C cancels the job)')
    .option('--json', 'print one JSON object: { jobId, coordinator, result, tasks, wallMs, tasksByPeer }')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .addHelpText('after', `
Examples:
  meshwork submit examples/wordcount.mjs --input corpus.txt --parts 16
  meshwork submit examples/wordcount.mjs --input-shared /mnt/nfs/logs --parts 64
  meshwork submit examples/primes.mjs --input-json '{"from":0,"to":5000000}' --json
  meshwork submit job.ts --detach && meshwork jobs`)
    .action(submitCommand)

  program.command('jobs')
    .description('List the jobs this node knows: state, coordinator, term, progress.')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .option('--all', 'also the finished jobs of its history (DATA_DIR/jobs-history.jsonl, kept across restarts; --history-max)')
    .option('--json', 'print { jobs: [...] }')
    .addHelpText('after', `
Examples:
  meshwork jobs
  meshwork jobs --all                              # with every finished job the node remembers, oldest first
  meshwork jobs --json | jq '.jobs[] | select(.state == "running")'`)
    .action(jobsCommand)

  program.command('result')
    .description("Print a finished job's result.")
    .argument('<jobId>')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .option('--json', 'print { jobId, coordinator, result, tasks, wallMs, tasksByPeer }')
    .addHelpText('after', `
Examples:
  meshwork result jmwy6uis07fee9f2118
  meshwork result jmwy6uis07fee9f2118 --json | jq .result`)
    .action(resultCommand)

  program.command('logs')
    .description("Print what a job's tasks wrote to stdout and stderr (console.log … console.error): every map task's, its split's and its reduce's, as the job's coordinator keeps them.")
    .argument('<jobId>')
    .option('--follow', 'keep printing new lines until the job is done, failed or cancelled, and its last lines are printed')
    .option('--json', 'print one JSON object per line (NDJSON): { seq, task, attempt, node, stream, atMs, text, marker? }')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .addHelpText('after', `
Each line shows its task (or split, reduce), a later attempt's number, the node that ran it, and
"stderr" for the error stream. A task keeps at most 500 lines and 64 KiB of output, a job its newest
10 000 lines and 1 MiB; a marker line says what a task dropped. Kept as long as the coordinator
keeps the job's record (--result-retention).

Examples:
  meshwork logs jmwy6uis07fee9f2118
  meshwork submit job.mjs --detach && meshwork logs JOB_ID --follow
  meshwork logs jmwy6uis07fee9f2118 --json | jq -r 'select(.stream == "stderr") | .text'`)
    .action(logsCommand)

  program.command('cancel')
    .description('Cancel a running job on every peer: its tasks stop within a second or two and their executors are recycled; the job shows `cancelled` in `meshwork jobs`. Exits non-zero for a finished or unknown job.')
    .argument('<jobId>')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .addHelpText('after', `
Examples:
  meshwork cancel j1a2b3c4d5e6f --api http://127.0.0.1:7070
  (Ctrl-C on an interactive \`meshwork submit\` cancels its job too.)`)
    .action(cancelCommand)

  program.command('drain')
    .description('Take a node out of the mesh without losing work: stop accepting tasks, finish (or hand back) running ones, hand its jobs to their backups, then leave.')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .option('--json', 'print the final progress as JSON')
    .addHelpText('after', `
Examples:
  meshwork drain                                   # the node recorded in the default data dir
  meshwork drain --api http://127.0.0.1:7070`)
    .action(drainCommand)

  addSimOptions(program.command('sim')
    .description('Run the deterministic simulator: p2p vs master-slave, sync-db and state-daemon (see sim/README.md).'))
    .action(async (opts: Record<string, unknown>) => {
      // The simulator itself loads only when it runs.
      const { simCommand } = await import('../../../sim/command.js')
      const { FaultSpecError } = await import('../../../sim/faults.js')
      try {
        process.exitCode = (await simCommand(simOptionsFrom(opts))).exitCode
      } catch (err) {
        if (err instanceof SimUsageError || err instanceof FaultSpecError) throw new UsageError(err.message)
        throw err
      }
    })

  program.command('demo')
    .description('Start a local mesh on 127.0.0.1, show it working, and shut it down (what `npm start` runs); --keep leaves it running.')
    .option('--nodes <n>', 'number of node processes', parseIntOption('--nodes', 1, 16), 3)
    .option('--keep', 'leave the mesh running after the demo job: print the dashboard link and the node APIs; Ctrl-C stops it')
    .addHelpText('after', `
Examples:
  meshwork demo
  meshwork demo --nodes 5
  meshwork demo --keep                             # a mesh to play with: open the printed dashboard link, submit jobs; Ctrl-C stops it`)
    .action(demoCommand)

  const clientOptions = (cmd: Command): Command => cmd.addOption(apiOption()).addOption(dataDirOption())
  registerTopCommand(program, clientOptions)
  registerDashboardCommand(program, clientOptions)

  return program
}

export async function main (argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    process.exitCode = reportError(err)
  }
}

/**
 * Every error ends here, printed one way: `meshwork: ` and what is wrong, on stderr; the exit
 * code says which kind of failure it was (exit-codes.ts). Commander's own usage errors were
 * already printed (with the same prefix, see buildProgram).
 */
export function reportError (err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage
  }
  if (err instanceof SimUsageError) {
    // A bad `meshwork sim` value, from its option parsers.
    process.stderr.write(`meshwork: ${err.message}\n`)
    return EXIT.usage
  }
  if (err instanceof MeshworkError) {
    process.stderr.write(`meshwork: ${err.message}\n`)
    const code = (err as { exitCode?: unknown }).exitCode
    return typeof code === 'number' ? code : EXIT.jobFailed
  }
  const e = err as Error | undefined
  process.stderr.write(`meshwork: internal error: ${e?.message ?? String(err)}${process.env.MESHWORK_DEBUG !== undefined && process.env.MESHWORK_DEBUG !== '' ? `\n${e?.stack ?? ''}` : ' (MESHWORK_DEBUG=1 shows where; please report it)'}\n`)
  return EXIT.internal
}
