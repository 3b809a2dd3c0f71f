import { Command, CommanderError, Option } from 'commander'
import { SOFTWARE_VERSION } from '../../version.js'
import { ClientError } from './client.js'
import { demoCommand } from './cmd-demo.js'
import { cancelCommand, jobsCommand, resultCommand } from './cmd-jobs.js'
import { JobFailedError, submitCommand } from './cmd-submit.js'
import { startCommand } from './cmd-start.js'
import { statusCommand } from './cmd-status.js'
import { registerDashboardCommand } from './cmd-dashboard.js'
import { registerTopCommand } from './cmd-top.js'
import { defaultSlots, parseIntOption, parseNodeName, parseLabel, parseList, parsePercentOption, UsageError } from './options.js'
import { drainCommand } from './cmd-drain.js'
import { hoursOption } from './cmd-start.js'
import { initCommand } from './cmd-init.js'
import { DEFAULT_SCRATCH_RETENTION_MS } from '../daemon/scratch-sweeper.js'
import { DEFAULT_HISTORY_BYTES_MAX, DEFAULT_HISTORY_MAX } from '../daemon/job-history.js'

const apiOption = (): Option => new Option('--api <url>', 'control API of the node to talk to (default: the node recorded in --data-dir; the API token comes from that data dir or $MESHWORK_TOKEN)')
const dataDirOption = (): Option => new Option('--data-dir <dir>', 'data dir of the local node: its control URL, API token (api.token) and mesh key (default: $MESHWORK_DATA_DIR or ~/.meshwork)')

export function buildProgram (): Command {
  const program = new Command('meshwork')
    .description('A peer-to-peer compute mesh: identical nodes, gossiped state vectors, a coordinator per job.')
    .version(SOFTWARE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
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

  program.command('start')
    .description('Run a node and join the mesh (mDNS on the LAN, plus any --bootstrap peers).')
    .option('--name <name>', "this node's name in status, top and the dashboard (default: the hostname)", parseNodeName)
    .option('--port <n>', 'p2p TCP port (0 picks a free one)', parseIntOption('--port', 0, 65535), 7071)
    .option('--host <ip>', 'address to listen on for peers', '0.0.0.0')
    .option('--api-port <n>', 'control API port on 127.0.0.1 (0 picks a free one)', parseIntOption('--api-port', 0, 65535), 7070)
    .option('--slots <n>', 'task slots offered to the mesh', parseIntOption('--slots', 0, 1024), defaultSlots())
    .option('--bootstrap <addrs>', 'comma-separated multiaddrs of peers to dial (for networks without multicast)', parseList, [])
    .option('--no-mdns', 'do not discover peers with mDNS')
    .option('--mdns-tag <tag>', 'mDNS service tag: only nodes with the same tag find each other', 'meshwork')
    .addOption(dataDirOption())
    .option('--label <key=value>', 'a label offered to jobs (repeatable)', parseLabel, {})
    .addOption(new Option('--log-level <level>', 'logs on stderr from this level up').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').env('MESHWORK_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'pretty: a readable line per event with local times; json: pino JSON lines (default: pretty on a terminal, json otherwise)').choices(['pretty', 'json']).env('MESHWORK_LOG_FORMAT'))
    .option('--publish-interval-ms <ms>', 'publish the state vector at least this often', parseIntOption('--publish-interval-ms', 10, 60_000), 1000)
    .option('--suspect-after-ms <ms>', 'silence before a peer is suspected', parseIntOption('--suspect-after-ms', 20, 600_000), 2500)
    .option('--dead-after-ms <ms>', 'silence before a peer is marked dead', parseIntOption('--dead-after-ms', 30, 600_000), 4500)
    .option('--election <strategy>', 'who coordinates each job: rendezvous (per-job, the default) or fixed:<peerId> (master-slave)', 'rendezvous')
    .option('--task-timeout-ms <ms>', 'a task running longer is killed and retried elsewhere', parseIntOption('--task-timeout-ms', 100, 86_400_000), 60_000)
    .option('--memory-limit-mb <mb>', 'resident memory of each executor (a cgroup limit where the machine delegates one, else RLIMIT_AS, and the node watching RSS) and its JS heap; over it a task fails as oom', parseIntOption('--memory-limit-mb', 32, 1_048_576), 512)
    .option('--idle-executors <n>', "idle executors kept for their code's next job, each for up to 60 s (default: twice --slots; 0: none)", parseIntOption('--idle-executors', 0, 256))
    .option('--backups <k>', 'backup peers per job holding its task table and results (failover needs a majority of 1 + k)', parseIntOption('--backups', 0, 8), 2)
    .option('--result-retention-ms <ms>', 'how long finished jobs and their results are kept', parseIntOption('--result-retention-ms', 1000, 2_592_000_000), 3_600_000)
    .option('--scratch-retention-ms <ms>', "a job's scratch dir on this node (what its tasks wrote) is removed once untouched this long; 0: never", parseIntOption('--scratch-retention-ms', 0, 315_360_000_000), DEFAULT_SCRATCH_RETENTION_MS)
    .option('--history-max <n>', 'finished jobs kept in DATA_DIR/jobs-history.jsonl, across restarts, for `meshwork jobs --all` and `meshwork result` (results up to 1 MiB; 0: no history)', parseIntOption('--history-max', 0, 1_000_000), DEFAULT_HISTORY_MAX)
    .option('--history-max-bytes <n>', 'bytes of job history kept (the oldest jobs go first; the file may reach twice this before it is compacted)', parseIntOption('--history-max-bytes', 65_536, 2 ** 32), DEFAULT_HISTORY_BYTES_MAX)
    // Owner policy and capabilities (issue 10): see README "A good guest".
    .option('--policy <name>', 'desktop: yield to the owner (pause tasks, give them back); dedicated: run whenever slots are free', 'desktop')
    .option('--max-cpu <pct>', "cap the executors' CPU at this percentage of the whole machine", parsePercentOption('--max-cpu', 1, 100))
    .option('--hours <HH:MM-HH:MM>', 'run tasks only within this local time window (e.g. 19:00-07:00)', hoursOption)
    .option('--owner-busy-above <pct>', "desktop: the owner's CPU load above which the node yields (default 50)", parsePercentOption('--owner-busy-above'))
    .option('--owner-idle-below <pct>', 'desktop: ... and below which it resumes (default 25)', parsePercentOption('--owner-idle-below'))
    .option('--owner-busy-ms <ms>', 'how long the owner must be busy before the node yields (default 3000)', parseIntOption('--owner-busy-ms', 0, 86_400_000))
    .option('--owner-idle-ms <ms>', 'how long the owner must be idle before it resumes (default 10000)', parseIntOption('--owner-idle-ms', 0, 86_400_000))
    .option('--give-back-after-ms <ms>', 'paused this long, tasks are handed back to be placed elsewhere (default 30000)', parseIntOption('--give-back-after-ms', 0, 86_400_000))
    .option('--tools <list>', 'commands to look for on PATH and advertise (default cc,gcc,clang,make,cmake,python3,go,rustc,cargo,java,git,docker)', parseList)
    .option('--drain-timeout-ms <ms>', 'drain: hand running tasks back after this long', parseIntOption('--drain-timeout-ms', 0, 86_400_000), 60_000)
    .option('--mesh-key <file>', 'the mesh key (default: $MESHWORK_MESH_KEY, else DATA_DIR/mesh.key from `meshwork init`)')
    .option('--insecure-open-mesh', 'run without a mesh key: any peer that reaches this node may join and run code on it')
    .option('--allow-submit <peers>', 'comma-separated peer ids that may submit jobs (default: every peer holding the mesh key)', parseList)
    .option('--allow-exec <tools>', 'programs that job modules may run when they declare them (requires: { tools: [...] }), e.g. cc,make', parseList)
    .option('--allow-fs-read <paths>', 'extra paths task code may read (default: only its job code and its code\'s scratch dirs)', parseList)
    .option('--allow-fs-write <paths>', 'extra paths task code may write (default: only its code\'s scratch dirs)', parseList)
    .addOption(new Option('--sandbox <mode>', 'bwrap: each executor in a bubblewrap sandbox (no host files, no network) and the Node permission model; none: task code runs with every permission of this user (only for code you trust; see SECURITY.md)').choices(['bwrap', 'none']).default('bwrap'))
    .option('--allow-network', 'run jobs that declare `network: true` (their tasks get the network; others never do)')
    .option('--task-cpu-ms <ms>', 'a task using more CPU time than this is killed (default: no limit besides --task-timeout-ms)', parseIntOption('--task-cpu-ms', 10, 86_400_000))
    .option('--max-result-bytes <n>', 'largest task or reduce result (JSON bytes); the chunks split() returns are bounded by --max-message-bytes', parseIntOption('--max-result-bytes', 1024, 1024 ** 3), 64 * 1024 * 1024)
    .option('--max-tasks-per-job <n>', 'most tasks (chunks from split) a job may have', parseIntOption('--max-tasks-per-job', 1, 10_000_000), 1_000_000)
    .option('--max-jobs-per-submitter <n>', 'most unfinished jobs one submitting node may have', parseIntOption('--max-jobs-per-submitter', 1, 100_000), 64)
    .option('--max-message-bytes <n>', 'largest direct message accepted from a peer (a job submission carries its input)', parseIntOption('--max-message-bytes', 65_536, 2 ** 31), 256 * 1024 * 1024)
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
  meshwork start --mesh-key /etc/meshwork/mesh.key --allow-exec cc   # build-farm nodes`)
    .action(startCommand)

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
    .option('--parts <n>', 'how many parts split should aim for (ctx.parts)', parseIntOption('--parts', 1, 1_000_000))
    .addOption(new Option('--priority <p>', 'fair-share priority').choices(['high', 'normal', 'low']).default('normal'))
    .option('--detach', 'print the job id and return at once (without it, Ctrl-C cancels the job)')
    .option('--json', 'print one JSON object: { jobId, coordinator, result, tasks, wallMs, tasksByPeer }')
    .addOption(apiOption())
    .addOption(dataDirOption())
    .addHelpText('after', `
Examples:
  meshwork submit examples/wordcount.mjs --input corpus.txt --parts 16
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

  program.command('sim')
    .description('Run the deterministic simulator: p2p vs master-slave, sync-db and state-daemon (see sim/README.md).')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', '--arch p2p|master-slave|sync-db|state-daemon|all  --nodes N | --sweep 10,100,1000,10000  --workload NAME  --faults SPEC  --seed S  --out DIR  --mode normal|dst  (--help for all)')
    .action(async (args: string[]) => {
      const { parseSimArgs, SimUsageError } = await import('../../../sim/cli-args.js')
      const { simCommand } = await import('../../../sim/command.js')
      const { FaultSpecError } = await import('../../../sim/faults.js')
      try {
        process.exitCode = (await simCommand(parseSimArgs(args))).exitCode
      } catch (err) {
        if (err instanceof SimUsageError || err instanceof FaultSpecError) throw new UsageError(err.message)
        throw err
      }
    })

  program.command('demo')
    .description('Start a local mesh on 127.0.0.1, show it working, and shut it down (what `npm start` runs).')
    .option('--nodes <n>', 'number of node processes', parseIntOption('--nodes', 1, 16), 3)
    .addHelpText('after', `
Examples:
  meshwork demo
  meshwork demo --nodes 5`)
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
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      process.exitCode = err.exitCode
      return
    }
    if (err instanceof JobFailedError) {
      process.stderr.write(`meshwork: ${err.message}\n`)
      process.exitCode = 1
      return
    }
    if (err instanceof UsageError || err instanceof ClientError) {
      process.stderr.write(`meshwork: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
}
