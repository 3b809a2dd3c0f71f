import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { TOOL_NAME_RE } from '../executor/sandbox.js'
import { probeExecutorSandbox } from '../executor/executor-pool.js'
import { parseElectionSpec } from '../../election/strategy.js'
import { Daemon } from '../daemon/daemon.js'
import { defaultDataDir, defaultNodeName } from '../host/data-dir.js'
import { createLogger, defaultLogFormat, type LogFormat } from '../host/logger.js'
import { UsageError } from './options.js'
import { formatDuration } from './units.js'
import { OwnerPolicyError, ownerPolicyConfig, type HoursWindow, type OwnerPolicyConfig } from '../../jobs/owner-policy.js'
import { ensureDataDir } from '../host/data-dir.js'
import { loadOrCreateApiToken } from '../../security/api-token.js'
import { MeshKeyError, resolveMeshKey } from '../../security/mesh-key.js'

export interface OwnerStartOptions {
  policy: string
  maxCpu?: number
  hours?: HoursWindow
  ownerBusyAbove?: number
  ownerIdleBelow?: number
  ownerBusyMs?: number
  ownerIdleMs?: number
  giveBackAfterMs?: number
  tools?: string[]
  drainTimeoutMs: number
}

export function ownerPolicyFrom (opts: OwnerStartOptions): OwnerPolicyConfig {
  try {
    return ownerPolicyConfig(opts.policy, {
      busyAbove: opts.ownerBusyAbove, idleBelow: opts.ownerIdleBelow, busyForMs: opts.ownerBusyMs, idleForMs: opts.ownerIdleMs, giveBackAfterMs: opts.giveBackAfterMs, hours: opts.hours,
    })
  } catch (err) {
    if (err instanceof OwnerPolicyError) throw new UsageError(err.message.replace(/^owner policy /, '').replace(/\bbusyAbove\b/g, '--owner-busy-above').replace(/\bidleBelow\b/g, '--owner-idle-below'))
    throw err
  }
}

/** Owner CPU is sampled every second: a few samples in, the figure means something. */
const OWNER_CHECK_AFTER_MS = 3000

/** The warning `start` prints when the owner is busy already under a yielding policy, else undefined. */
export function busyOwnerWarning (ownerCpuLoad: number, policy: Pick<OwnerPolicyConfig, 'policy' | 'busyAbove' | 'idleBelow' | 'idleForMs'>): string | undefined {
  if (policy.busyAbove >= 1 || !(ownerCpuLoad > policy.busyAbove)) return undefined
  const pct = (x: number): string => `${Math.round(x * 100)} %`
  return `meshwork: warning: this machine's owner is busy (owner CPU ${pct(ownerCpuLoad)} > ${pct(policy.busyAbove)}): under --policy ${policy.policy} the node takes no tasks, and coordinates without running any, until the owner stays under ${pct(policy.idleBelow)} for ${formatDuration(policy.idleForMs)}. A machine given to the mesh runs with --policy dedicated.`
}

export interface StartOptions extends OwnerStartOptions {
  name?: string
  port: number
  host: string
  apiPort: number
  slots: number
  bootstrap: string[]
  mdns: boolean
  mdnsTag: string
  dataDir?: string
  label: Record<string, string>
  logLevel: string
  logFormat?: LogFormat
  publishIntervalMs: number
  suspectAfterMs: number
  deadAfterMs: number
  election: string
  taskTimeoutMs: number
  memoryLimitMb: number
  idleExecutors?: number
  resultRetentionMs: number
  scratchRetentionMs: number
  historyMax: number
  historyMaxBytes: number
  backups: number
  meshKey?: string
  insecureOpenMesh?: boolean
  allowSubmit?: string[]
  allowExec?: string[]
  allowFsRead?: string[]
  sharedDir?: string[]
  allowFsWrite?: string[]
  sandbox: 'bwrap' | 'none'
  allowNetwork?: boolean
  taskCpuMs?: number
  maxResultBytes: number
  maxTasksPerJob: number
  maxJobsPerSubmitter: number
  maxMessageBytes: number
}

export async function startCommand (opts: StartOptions): Promise<void> {
  for (const addr of opts.bootstrap) {
    try { multiaddr(addr) } catch { throw new UsageError(`--bootstrap: "${addr}" is not a multiaddr (e.g. /ip4/10.0.0.5/tcp/7071/p2p/12D3Koo…)`) }
  }
  if (!(opts.suspectAfterMs > opts.publishIntervalMs && opts.deadAfterMs > opts.suspectAfterMs)) {
    throw new UsageError(`timeouts must satisfy --publish-interval < --suspect-after < --dead-after, got ${formatDuration(opts.publishIntervalMs)}, ${formatDuration(opts.suspectAfterMs)}, ${formatDuration(opts.deadAfterMs)}`)
  }
  let election
  try { election = parseElectionSpec(opts.election) } catch (err) { throw new UsageError(`--election: ${(err as Error).message}`) }
  const policy = ownerPolicyFrom(opts)
  for (const peer of opts.allowSubmit ?? []) {
    try { peerIdFromString(peer) } catch { throw new UsageError(`--allow-submit: "${peer}" is not a peer id (e.g. 12D3KooW…, as \`meshwork status\` shows)`) }
  }
  for (const tool of opts.allowExec ?? []) {
    if (!TOOL_NAME_RE.test(tool)) throw new UsageError(`--allow-exec: "${tool}" is not a program name (letters, digits, . _ + -; no paths)`)
  }
  const dataDir = ensureDataDir(opts.dataDir ?? defaultDataDir())
  let meshKey
  try {
    meshKey = resolveMeshKey({ meshKey: opts.meshKey, dataDir, insecureOpenMesh: opts.insecureOpenMesh })
  } catch (err) {
    if (err instanceof MeshKeyError) throw new UsageError(err.message)
    throw err
  }
  const apiToken = loadOrCreateApiToken(dataDir)
  const log = createLogger(opts.logLevel, {}, opts.logFormat ?? defaultLogFormat())
  if (opts.sandbox === 'bwrap') {
    // Never silently weaker: without a working sandbox the node does not start.
    const probe = probeExecutorSandbox()
    if (!probe.ok) throw new UsageError(`the task sandbox cannot run here: ${probe.reason}. Fix that, or start with --sandbox none to run task code from the mesh with every permission of this user (see SECURITY.md)`)
  } else log.warn('--sandbox none: task code from the mesh runs with every permission of this user')
  if (meshKey.psk === undefined) log.warn('open mesh (--insecure-open-mesh): any peer that can reach this node can join the mesh and run code on it')
  const name = opts.name ?? defaultNodeName()
  const daemon = await Daemon.start({
    dataDir,
    ...(name !== undefined ? { name } : {}),
    meshKey: meshKey.psk,
    apiToken,
    host: opts.host,
    port: opts.port,
    apiPort: opts.apiPort,
    slots: opts.slots,
    bootstrap: opts.bootstrap,
    mdns: opts.mdns,
    mdnsServiceTag: opts.mdnsTag,
    labels: opts.label,
    membership: { publishIntervalMs: opts.publishIntervalMs, suspectAfterMs: opts.suspectAfterMs, deadAfterMs: opts.deadAfterMs },
    election,
    scheduler: {},
    taskTimeoutMs: opts.taskTimeoutMs,
    memoryLimitMB: opts.memoryLimitMb,
    ...(opts.idleExecutors !== undefined ? { idleExecutors: opts.idleExecutors } : {}),
    resultRetentionMs: opts.resultRetentionMs,
    scratchRetentionMs: opts.scratchRetentionMs,
    historyMax: opts.historyMax,
    historyBytesMax: opts.historyMaxBytes,
    backups: opts.backups,
    rpcFrameBytesMax: opts.maxMessageBytes,
    ...(opts.sharedDir !== undefined ? { sharedDirs: opts.sharedDir } : {}),
    security: {
      sandbox: opts.sandbox === 'bwrap' ? { mode: 'bwrap', allowNetwork: opts.allowNetwork === true, allowExec: opts.allowExec ?? [], fsRead: opts.allowFsRead ?? [], fsWrite: opts.allowFsWrite ?? [] } : undefined,
      allowNetwork: opts.allowNetwork === true,
      taskCpuMsMax: opts.taskCpuMs,
      resultBytesMax: opts.maxResultBytes,
      tasksPerJobMax: opts.maxTasksPerJob,
      jobsPerSubmitterMax: opts.maxJobsPerSubmitter,
      allowSubmit: opts.allowSubmit !== undefined ? new Set(opts.allowSubmit) : undefined,
    },
    log,
    owner: { policy, ...(opts.maxCpu !== undefined ? { maxCpu: opts.maxCpu } : {}) },
    ...(opts.tools !== undefined ? { tools: opts.tools } : {}),
    drainTimeoutMs: opts.drainTimeoutMs,
    onLeft: () => process.exit(0),
  })
  process.stdout.write([
    `meshwork node ${daemon.peerId}`,
    `  name:        ${name ?? '(none)'}`,
    ...daemon.node.getMultiaddrs().map(a => `  p2p:         ${a.toString()}`),
    `  control API: ${daemon.apiUrl} (token in ${dataDir}/api.token)`,
    `  mesh key:    ${meshKey.path ?? 'none — OPEN MESH (--insecure-open-mesh)'}`,
    `  data dir:    ${daemon.opts.dataDir}`,
    `  sandbox:     ${daemon.pool.isolation.sandbox}`,
    `  memory cap:  ${daemon.pool.isolation.memoryCap}`,
    `  policy:      ${policy.policy}${opts.maxCpu !== undefined ? `, executors capped at ${Math.round(opts.maxCpu * 100)}% CPU` : ''}${opts.hours !== undefined ? `, hours ${opts.hours.startMin}–${opts.hours.endMin} min` : ''}`,
    '',
  ].join('\n'))
  // Started on a machine whose owner is already busy: say at once why no task will come.
  setTimeout(() => {
    const warning = busyOwnerWarning(daemon.guard.view().ownerCpuLoad, policy)
    if (warning !== undefined) process.stderr.write(`${warning}\n`)
  }, OWNER_CHECK_AFTER_MS).unref()
  let signals = 0
  const shutdown = (signal: string): void => {
    if (++signals > 1) process.exit(1)
    log.info({ signal }, 'leaving the mesh')
    daemon.stop().then(() => process.exit(0), err => {
      log.error({ err }, 'error while stopping')
      process.exit(1)
    })
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}
