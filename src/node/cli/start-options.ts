import { readFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { z } from 'zod'
import { DEFAULT_HISTORY_BYTES_MAX, DEFAULT_HISTORY_MAX } from '../daemon/job-history.js'
import { DEFAULT_SCRATCH_RETENTION_MS } from '../daemon/scratch-sweeper.js'
import { NODE_NAME_MAX, NodeNameSchema } from '../../gossip/state-vector.js'
import { parseHours } from '../../jobs/owner-policy.js'
import { defaultSlots, UsageError } from './options.js'
import { formatDuration, formatSize, parseDuration, parseSize, type DurationUnit, type SizeUnit } from './units.js'
import type { StartOptions } from './cmd-start.js'

// The options of `meshwork start`, declared once: each has a zod schema that reads a value from
// the command line (a string) or from the --config file (a JSON value), so flags and file are
// checked by the same rules and their errors read alike. Durations and sizes take human units
// (`7d`, `256MiB`); their old names (`--scratch-retention-ms`, `--max-message-bytes`) stay as
// hidden aliases whose bare numbers mean what they always did.

type Value = z.ZodType<unknown, unknown>

export interface StartFlag {
  /** The long flag without dashes, as in `--config` files: `scratch-retention`. */
  name: string
  /** The StartOptions field it fills. */
  key: keyof StartOptions
  /** Commander's argument placeholder (`<duration>`); none for a switch. */
  arg?: string
  description: string
  group: string
  schema: Value
  default?: unknown
  /** How the default shows in --help, when not the plain value. */
  defaultText?: string
  /** The old name (hidden from --help, still read): its own schema, for its bare numbers' unit. */
  alias?: { name: string, arg: string, schema: Value }
  /** `--no-NAME`: a switch that is on unless turned off. */
  negate?: boolean
  choices?: readonly string[]
  env?: string
  /** Repeatable: each value is merged into the previous ones (`--label`). */
  repeatable?: boolean
}

export const GROUPS = {
  node: 'Node and network:',
  log: 'Logging:',
  mesh: 'Membership, jobs and retention:',
  owner: "Owner policy (sharing the owner's machine):",
  security: 'Security:',
  limits: 'Limits:',
} as const

// ---- value kinds: each a zod schema taking a flag's string or a config file's JSON value ----

function custom<T> (expect: string, parse: (v: unknown) => T | undefined): z.ZodType<T, unknown> {
  return z.unknown().transform((v, ctx) => {
    const out = parse(v)
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: expect })
      return z.NEVER
    }
    return out
  })
}

export function intValue (min: number, max: number): Value {
  return custom(`must be an integer from ${min} to ${max}`, v => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined
  })
}

export function durationValue (minMs: number, maxMs: number, bare: DurationUnit = 'ms'): Value {
  const range = `from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`
  return custom(`must be a duration ${range}, e.g. 500ms, 30s, 5m, 7d (a bare number: ${bare === 'ms' ? 'milliseconds' : 'seconds'})`, v => {
    const n = parseDuration(v, bare)
    return n !== undefined && n >= minMs && n <= maxMs ? n : undefined
  })
}

/** A size, in bytes or (out: 'MiB') in whole MiB. */
export function sizeValue (minBytes: number, maxBytes: number, bare: SizeUnit = 'B', out: 'B' | 'MiB' = 'B'): Value {
  const range = `from ${formatSize(minBytes)} to ${formatSize(maxBytes)}`
  return custom(`must be a size ${range}, e.g. 64KiB, 256MiB, 2GiB (KiB = 1024 B, kB = 1000 B; a bare number: ${bare === 'B' ? 'bytes' : bare})`, v => {
    const n = parseSize(v, bare)
    if (n === undefined || n < minBytes || n > maxBytes) return undefined
    return out === 'MiB' ? Math.floor(n / 1024 ** 2) : n
  })
}

/** "25", "25%" or 25 → 0.25. */
export function percentValue (min = 0, max = 100): Value {
  return custom(`must be a percentage from ${min} to ${max}`, v => {
    const m = typeof v === 'number' ? [String(v), String(v)] : typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(v) : null
    const n = m === null ? NaN : Number(m[1])
    return n >= min && n <= max ? n / 100 : undefined
  })
}

/** "a,b" or ["a", "b"]. */
export const listValue: Value = custom('must be a comma-separated list (in a config file: a list of strings)', v => {
  if (typeof v === 'string') return v.split(',').map(s => s.trim()).filter(s => s !== '')
  if (Array.isArray(v) && v.every(s => typeof s === 'string')) return v.map(s => s.trim()).filter(s => s !== '')
  return undefined
})

const LABEL_RE = /^([A-Za-z0-9_.-]{1,64})=(.{0,256})$/s
/** "KEY=VALUE" (one label) or { KEY: "VALUE", … }. */
export const labelsValue: Value = custom('must look like KEY=VALUE (key: letters, digits, _ . -; in a config file: an object of strings)', v => {
  if (typeof v === 'string') {
    const m = LABEL_RE.exec(v)
    return m === null ? undefined : { [m[1] as string]: m[2] as string }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string' || !LABEL_RE.test(`${k}=${val}`)) return undefined
    out[k] = val
  }
  return out
})

export function choiceValue (choices: readonly string[]): Value {
  const list = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1) as string}` : choices.join('')
  return custom(`must be ${list}`, v => typeof v === 'string' && choices.includes(v) ? v : undefined)
}

export const textValue: Value = custom('must be a non-empty string', v => typeof v === 'string' && v !== '' ? v : undefined)
export const switchValue: Value = custom('must be true or false', v => typeof v === 'boolean' ? v : undefined)

const nameValue: Value = custom(`must be 1 to ${NODE_NAME_MAX} letters, digits, . _ - (starting with a letter or digit)`, v => NodeNameSchema.safeParse(v).success ? v : undefined)
const hoursValue: Value = z.unknown().transform((v, ctx) => {
  try {
    if (typeof v !== 'string') throw new Error('must look like HH:MM-HH:MM')
    return parseHours(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
    return z.NEVER
  }
})

// ---- the table ----

const { node, log, mesh, owner, security, limits } = GROUPS
const DAY_MS = 86_400_000

export const START_FLAGS: readonly StartFlag[] = [
  { name: 'name', key: 'name', arg: '<name>', group: node, schema: nameValue, description: "this node's name in status, top and the dashboard (default: the hostname)" },
  { name: 'port', key: 'port', arg: '<n>', group: node, schema: intValue(0, 65535), default: 7071, description: 'p2p TCP port (0 picks a free one)' },
  { name: 'host', key: 'host', arg: '<ip>', group: node, schema: textValue, default: '0.0.0.0', description: 'address to listen on for peers' },
  { name: 'api-port', key: 'apiPort', arg: '<n>', group: node, schema: intValue(0, 65535), default: 7070, description: 'control API port on 127.0.0.1 (0 picks a free one)' },
  { name: 'slots', key: 'slots', arg: '<n>', group: node, schema: intValue(0, 1024), default: defaultSlots(), defaultText: `${defaultSlots()}, one per core`, description: 'task slots offered to the mesh' },
  { name: 'bootstrap', key: 'bootstrap', arg: '<addrs>', group: node, schema: listValue, default: [], defaultText: 'none', description: 'comma-separated multiaddrs of peers to dial (for networks without multicast)' },
  { name: 'mdns', key: 'mdns', group: node, schema: switchValue, negate: true, default: true, description: 'do not discover peers with mDNS' },
  { name: 'mdns-tag', key: 'mdnsTag', arg: '<tag>', group: node, schema: textValue, default: 'meshwork', description: 'mDNS service tag: only nodes with the same tag find each other' },
  { name: 'data-dir', key: 'dataDir', arg: '<dir>', group: node, schema: textValue, description: 'data dir of this node: identity, control URL, API token (api.token), mesh key, scratch (default: $MESHWORK_DATA_DIR or ~/.meshwork)' },
  { name: 'label', key: 'label', arg: '<key=value>', group: node, schema: labelsValue, default: {}, defaultText: 'none', repeatable: true, description: 'a label offered to jobs (repeatable)' },

  { name: 'log-level', key: 'logLevel', arg: '<level>', group: log, schema: choiceValue(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', env: 'MESHWORK_LOG_LEVEL', description: 'logs on stderr from this level up' },
  { name: 'log-format', key: 'logFormat', arg: '<format>', group: log, schema: choiceValue(['pretty', 'json']), choices: ['pretty', 'json'], env: 'MESHWORK_LOG_FORMAT', description: 'pretty: a readable line per event with local times; json: pino JSON lines (default: pretty on a terminal, json otherwise)' },

  { name: 'publish-interval', key: 'publishIntervalMs', arg: '<duration>', group: mesh, schema: durationValue(10, 60_000), default: 1000, alias: { name: 'publish-interval-ms', arg: '<ms>', schema: durationValue(10, 60_000) }, description: 'publish the state vector at least this often' },
  { name: 'suspect-after', key: 'suspectAfterMs', arg: '<duration>', group: mesh, schema: durationValue(20, 600_000), default: 2500, alias: { name: 'suspect-after-ms', arg: '<ms>', schema: durationValue(20, 600_000) }, description: 'silence before a peer is suspected' },
  { name: 'dead-after', key: 'deadAfterMs', arg: '<duration>', group: mesh, schema: durationValue(30, 600_000), default: 4500, alias: { name: 'dead-after-ms', arg: '<ms>', schema: durationValue(30, 600_000) }, description: 'silence before a peer is marked dead' },
  { name: 'election', key: 'election', arg: '<strategy>', group: mesh, schema: textValue, default: 'rendezvous', description: 'who coordinates each job: rendezvous (per-job) or fixed:<peerId> (master-slave)' },
  { name: 'task-timeout', key: 'taskTimeoutMs', arg: '<duration>', group: mesh, schema: durationValue(100, DAY_MS), default: 60_000, alias: { name: 'task-timeout-ms', arg: '<ms>', schema: durationValue(100, DAY_MS) }, description: 'a task running longer is killed and retried elsewhere' },
  { name: 'memory-limit', key: 'memoryLimitMb', arg: '<size>', group: mesh, schema: sizeValue(32 * 1024 ** 2, 1024 ** 4, 'B', 'MiB'), default: 512, defaultText: '512MiB', alias: { name: 'memory-limit-mb', arg: '<mb>', schema: sizeValue(32 * 1024 ** 2, 1024 ** 4, 'MiB', 'MiB') }, description: 'resident memory of each executor (a cgroup limit where the machine delegates one, else RLIMIT_AS, and the node watching RSS) and its JS heap; over it a task fails as oom' },
  { name: 'idle-executors', key: 'idleExecutors', arg: '<n>', group: mesh, schema: intValue(0, 256), description: "idle executors kept for their code's next job, each for up to 60 s (default: twice --slots; 0: none)" },
  { name: 'backups', key: 'backups', arg: '<k>', group: mesh, schema: intValue(0, 8), default: 2, description: 'backup peers per job holding its task table and results (failover needs a majority of 1 + k)' },
  { name: 'result-retention', key: 'resultRetentionMs', arg: '<duration>', group: mesh, schema: durationValue(1000, 30 * DAY_MS), default: 3_600_000, alias: { name: 'result-retention-ms', arg: '<ms>', schema: durationValue(1000, 30 * DAY_MS) }, description: 'how long finished jobs and their results are kept in memory' },
  { name: 'scratch-retention', key: 'scratchRetentionMs', arg: '<duration>', group: mesh, schema: durationValue(0, 3650 * DAY_MS), default: DEFAULT_SCRATCH_RETENTION_MS, alias: { name: 'scratch-retention-ms', arg: '<ms>', schema: durationValue(0, 3650 * DAY_MS) }, description: "a job's scratch dir on this node (what its tasks wrote) is removed once untouched this long; 0: never" },
  { name: 'history-max', key: 'historyMax', arg: '<n>', group: mesh, schema: intValue(0, 1_000_000), default: DEFAULT_HISTORY_MAX, description: 'finished jobs kept in DATA_DIR/jobs-history.jsonl, across restarts, for `meshwork jobs --all` and `meshwork result` (results up to 1 MiB; 0: no history)' },
  { name: 'history-max-size', key: 'historyMaxBytes', arg: '<size>', group: mesh, schema: sizeValue(65_536, 2 ** 32), default: DEFAULT_HISTORY_BYTES_MAX, alias: { name: 'history-max-bytes', arg: '<n>', schema: sizeValue(65_536, 2 ** 32) }, description: 'job history kept on disk (the oldest jobs go first; the file may reach twice this before it is compacted)' },

  { name: 'policy', key: 'policy', arg: '<name>', group: owner, schema: choiceValue(['desktop', 'dedicated']), choices: ['desktop', 'dedicated'], default: 'desktop', description: 'desktop: yield to the owner (pause tasks, give them back); dedicated: run whenever slots are free' },
  { name: 'max-cpu', key: 'maxCpu', arg: '<pct>', group: owner, schema: percentValue(1, 100), description: "cap the executors' CPU at this percentage of the whole machine" },
  { name: 'hours', key: 'hours', arg: '<HH:MM-HH:MM>', group: owner, schema: hoursValue, description: 'run tasks only within this local time window (e.g. 19:00-07:00)' },
  { name: 'owner-busy-above', key: 'ownerBusyAbove', arg: '<pct>', group: owner, schema: percentValue(), description: "desktop: the owner's CPU load above which the node yields (default 50)" },
  { name: 'owner-idle-below', key: 'ownerIdleBelow', arg: '<pct>', group: owner, schema: percentValue(), description: 'desktop: ... and below which it resumes (default 25)' },
  { name: 'owner-busy-for', key: 'ownerBusyMs', arg: '<duration>', group: owner, schema: durationValue(0, DAY_MS), alias: { name: 'owner-busy-ms', arg: '<ms>', schema: durationValue(0, DAY_MS) }, description: 'how long the owner must be busy before the node yields (default 3s)' },
  { name: 'owner-idle-for', key: 'ownerIdleMs', arg: '<duration>', group: owner, schema: durationValue(0, DAY_MS), alias: { name: 'owner-idle-ms', arg: '<ms>', schema: durationValue(0, DAY_MS) }, description: 'how long the owner must be idle before it resumes (default 10s)' },
  { name: 'give-back-after', key: 'giveBackAfterMs', arg: '<duration>', group: owner, schema: durationValue(0, DAY_MS), alias: { name: 'give-back-after-ms', arg: '<ms>', schema: durationValue(0, DAY_MS) }, description: 'paused this long, tasks are handed back to be placed elsewhere (default 30s)' },
  { name: 'tools', key: 'tools', arg: '<list>', group: owner, schema: listValue, description: 'commands to look for on PATH and advertise (default cc,gcc,clang,make,cmake,python3,go,rustc,cargo,java,git,docker)' },
  { name: 'drain-timeout', key: 'drainTimeoutMs', arg: '<duration>', group: owner, schema: durationValue(0, DAY_MS), default: 60_000, alias: { name: 'drain-timeout-ms', arg: '<ms>', schema: durationValue(0, DAY_MS) }, description: 'drain: hand running tasks back after this long' },

  { name: 'mesh-key', key: 'meshKey', arg: '<file>', group: security, schema: textValue, description: 'the mesh key (default: $MESHWORK_MESH_KEY, else DATA_DIR/mesh.key from `meshwork init`)' },
  { name: 'insecure-open-mesh', key: 'insecureOpenMesh', group: security, schema: switchValue, description: 'run without a mesh key: any peer that reaches this node may join and run code on it' },
  { name: 'allow-submit', key: 'allowSubmit', arg: '<peers>', group: security, schema: listValue, description: 'comma-separated peer ids that may submit jobs (default: every peer holding the mesh key)' },
  { name: 'allow-exec', key: 'allowExec', arg: '<tools>', group: security, schema: listValue, description: 'programs that job modules may run when they declare them (requires: { tools: [...] }), e.g. cc,make' },
  { name: 'allow-fs-read', key: 'allowFsRead', arg: '<paths>', group: security, schema: listValue, description: "extra paths task code may read (default: only its job code and its code's scratch dirs)" },
  { name: 'allow-fs-write', key: 'allowFsWrite', arg: '<paths>', group: security, schema: listValue, description: "extra paths task code may write (default: only its code's scratch dirs)" },
  { name: 'sandbox', key: 'sandbox', arg: '<mode>', group: security, schema: choiceValue(['bwrap', 'none']), choices: ['bwrap', 'none'], default: 'bwrap', description: 'bwrap: each executor in a bubblewrap sandbox (no host files, no network) and the Node permission model; none: task code runs with every permission of this user (only for code you trust; see SECURITY.md)' },
  { name: 'shared-dir', key: 'sharedDir', arg: '<dirs>', group: security, schema: listValue, description: 'directories this node reads jobs\' shared input from (--input-shared); default: none' },
  { name: 'allow-network', key: 'allowNetwork', group: security, schema: switchValue, description: 'run jobs that declare `network: true` (their tasks get the network; others never do)' },

  { name: 'task-cpu-time', key: 'taskCpuMs', arg: '<duration>', group: limits, schema: durationValue(10, DAY_MS), alias: { name: 'task-cpu-ms', arg: '<ms>', schema: durationValue(10, DAY_MS) }, description: 'a task using more CPU time than this is killed (default: no limit besides --task-timeout)' },
  { name: 'max-result-size', key: 'maxResultBytes', arg: '<size>', group: limits, schema: sizeValue(1024, 1024 ** 3), default: 64 * 1024 ** 2, alias: { name: 'max-result-bytes', arg: '<n>', schema: sizeValue(1024, 1024 ** 3) }, description: 'largest task or reduce result (as JSON); the chunks split() returns are bounded by --max-message-size' },
  { name: 'max-tasks-per-job', key: 'maxTasksPerJob', arg: '<n>', group: limits, schema: intValue(1, 10_000_000), default: 1_000_000, description: 'most tasks (chunks from split) a job may have' },
  { name: 'max-jobs-per-submitter', key: 'maxJobsPerSubmitter', arg: '<n>', group: limits, schema: intValue(1, 100_000), default: 64, description: 'most unfinished jobs one submitting node may have' },
  { name: 'max-message-size', key: 'maxMessageBytes', arg: '<size>', group: limits, schema: sizeValue(65_536, 2 ** 31), default: 256 * 1024 ** 2, alias: { name: 'max-message-bytes', arg: '<n>', schema: sizeValue(65_536, 2 ** 31) }, description: 'largest direct message accepted from a peer (a job submission carries its input)' },
]

/** The value of a flag's zod schema, or a UsageError naming `where` (a flag, or a config file key). */
export function checkValue (schema: Value, where: string, value: unknown): unknown {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  throw new UsageError(`${where} ${r.error.issues[0]?.message ?? 'is not valid'}, got ${JSON.stringify(value)}`)
}

/** How a default reads in --help: durations and sizes in their units. */
function defaultText (f: StartFlag): string | undefined {
  if (f.defaultText !== undefined) return f.defaultText
  if (f.default === undefined || f.negate === true) return undefined
  if (f.arg === '<duration>' && typeof f.default === 'number') return formatDuration(f.default)
  if (f.arg === '<size>' && typeof f.default === 'number') return formatSize(f.default)
  return String(f.default)
}

/** Add every option of the table to `start`, in its help group; aliases hidden. */
export function addStartOptions (cmd: Command): Command {
  for (const f of START_FLAGS) {
    const flags = f.negate === true ? `--no-${f.name}` : `--${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`
    const opt = new Option(flags, f.description).helpGroup(f.group)
    if (f.choices !== undefined) opt.choices(f.choices)
    if (f.arg !== undefined) {
      const where = `--${f.name}`
      opt.argParser((value: string, previous: unknown) => {
        const v = checkValue(f.schema, where, value)
        return f.repeatable === true ? { ...(previous as object | undefined), ...(v as object) } : v
      })
    }
    if (f.env !== undefined) opt.env(f.env)
    if (f.default !== undefined && f.negate !== true) opt.default(f.default, defaultText(f))
    cmd.addOption(opt)
    if (f.alias !== undefined) {
      const alias = f.alias
      cmd.addOption(new Option(`--${alias.name} ${alias.arg}`, `old name of --${f.name}`).hideHelp().argParser((value: string) => checkValue(alias.schema, `--${alias.name}`, value)))
    }
  }
  cmd.addOption(new Option('--config <file>', 'options from a JSON file, keyed by these flags without dashes: { "name": "build-3", "scratch-retention": "2d", "label": { "zone": "b" }, "mdns": false }; flags given here win').helpGroup(GROUPS.node))
  return cmd
}

/**
 * The options of a --config file: a JSON object whose keys are the flags' names (`scratch-retention`,
 * or the old `scratch-retention-ms`; `mdns: false` for `--no-mdns`), each value checked by its
 * flag's schema. An unknown key is an error naming it (and the flag it may have meant).
 */
export function readStartConfig (file: string): Partial<Record<keyof StartOptions, unknown>> {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    throw new UsageError(`--config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  let doc: unknown
  try { doc = JSON.parse(text) } catch (err) { throw new UsageError(`--config ${file} is not valid JSON: ${(err as Error).message}`) }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError(`--config ${file} must hold a JSON object of options, e.g. { "name": "build-3", "scratch-retention": "2d" }`)
  const out: Partial<Record<keyof StartOptions, unknown>> = {}
  const seen = new Map<keyof StartOptions, string>()
  for (const [key, value] of Object.entries(doc)) {
    const flag = START_FLAGS.find(f => f.name === key || f.alias?.name === key)
    if (flag === undefined) {
      const near = closest(key, START_FLAGS.flatMap(f => [f.name, ...(f.alias !== undefined ? [f.alias.name] : [])]))
      throw new UsageError(`--config ${file}: unknown key "${key}"${near !== undefined ? ` (did you mean "${near}"?)` : ''}; the keys are the flags of \`meshwork start --help\` without their dashes`)
    }
    const other = seen.get(flag.key)
    if (other !== undefined) throw new UsageError(`--config ${file}: give "${other}" or "${key}", not both`)
    seen.set(flag.key, key)
    const schema = flag.alias?.name === key ? flag.alias.schema : flag.schema
    out[flag.key] = checkValue(schema, `--config ${file}: "${key}"`, value)
  }
  return out
}

/** The candidate within edit distance 3 of `word`, if any (the nearest). */
function closest (word: string, candidates: string[]): string | undefined {
  let best: { c: string, d: number } | undefined
  for (const c of candidates) {
    const d = editDistance(word, c)
    if (d <= 3 && (best === undefined || d < best.d)) best = { c, d }
  }
  return best?.c
}

function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length] as number
}

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/**
 * The options `start` runs with, from commander's parse of the command line and the --config
 * file's values (already checked): a flag given on the command line (or by its env variable)
 * wins over the file, the file over the defaults. Giving a flag and its old name is an error.
 */
export function resolveStartOptions (cmd: Command, fromFile: Partial<Record<keyof StartOptions, unknown>> = {}): StartOptions {
  const out: Record<string, unknown> = {}
  for (const f of START_FLAGS) {
    const attr = camel(f.name)
    const source = cmd.getOptionValueSource(attr)
    const given = source === 'cli' || source === 'env'
    const aliasAttr = f.alias !== undefined ? camel(f.alias.name) : undefined
    const aliasGiven = aliasAttr !== undefined && cmd.getOptionValueSource(aliasAttr) === 'cli'
    if (given && aliasGiven) throw new UsageError(`give --${f.name} or its old name --${f.alias?.name as string}, not both`)
    let value: unknown
    if (f.repeatable === true) value = { ...(f.default as object), ...(fromFile[f.key] as object | undefined), ...(given ? cmd.getOptionValue(attr) as object : {}) }
    else if (given) value = cmd.getOptionValue(attr)
    else if (aliasGiven) value = cmd.getOptionValue(aliasAttr)
    else if (f.key in fromFile) value = fromFile[f.key]
    else value = f.default
    if (value !== undefined) out[f.key] = value
  }
  return out as unknown as StartOptions
}
