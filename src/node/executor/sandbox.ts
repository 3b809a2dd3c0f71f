// Executors in a box. Two layers: an OS sandbox (bubblewrap: namespaces and a root of read-only
// binds, see src/node/executor/bwrap.ts) and, inside it, Node's permission model. An executor process may read
// only its own entry code, the job's module file and the code's workspace (the scratch dirs of
// every job of that code), write only there, and may not start processes or worker threads or
// load native addons — unless the
// job declares the tools it runs (`requires: { tools: ['cc'] }`) and the node allows every one of
// them (`--allow-exec cc`). The operator may widen file access with --allow-fs-read/--allow-fs-write.
//
// Permission flags are fixed when a process starts, so an executor serves one profile (a module
// and its workspace); the pool starts a child with the right flags when the profile changes.
import { dirname, resolve } from 'node:path'

export interface SandboxPolicy {
  /**
   * 'bwrap': the permission model inside a bubblewrap sandbox (new user, PID, mount, IPC and
   * network namespaces), as `meshwork start` runs it; 'none': the permission model alone, which
   * is no security boundary (tests of the pool itself). `--sandbox none` runs no policy at all.
   * Default 'none'.
   */
  mode?: 'bwrap' | 'none'
  /** Jobs that declare `network: true` may reach the network (`--allow-network`). */
  allowNetwork?: boolean
  /** Tools (executable names) that job modules may declare and then run. */
  allowExec: string[]
  /** Extra paths every executor may read / write (the operator's choice, e.g. a shared data dir). */
  fsRead: string[]
  fsWrite: string[]
}

/** The permissions of one executor process. `key` identifies the profile. */
export interface Sandbox {
  key: string
  mode: 'bwrap' | 'none'
  fsRead: string[]
  fsWrite: string[]
  /** Executables the task may start (non-empty only when the node allows each of them). */
  tools: string[]
  /** The task may reach the network (the job declares it and the node allows it). */
  network: boolean
  /** The job's own environment variables (`env` in its module), on top of the allowlist. */
  env: Readonly<Record<string, string>>
  /** The task's HOME: its code's workspace (undefined without one). */
  home: string | undefined
}

export type SandboxChoice = { ok: true, sandbox: Sandbox } | { ok: false, error: string }

/** The permission-model flag this Node accepts ('--permission' from Node 22, '--experimental-permission' on 20), if any. */
export function permissionFlag (): string | undefined {
  const flags = process.allowedNodeEnvironmentFlags
  if (flags.has('--permission')) return '--permission'
  if (flags.has('--experimental-permission')) return '--experimental-permission'
  return undefined
}

export const TOOL_NAME_RE = /^[A-Za-z0-9._+-]{1,64}$/

export interface SandboxRequest {
  /** The executor's entry file: its directory holds the executor's own modules. */
  childEntry: string
  modulePath: string
  /** The directory the executor may read and write: the workspace of the job's code. */
  scratchDir?: string
  /** Tools the job declares (`requires.tools`). */
  tools?: readonly string[]
  /** The job declares `network: true`. */
  network?: boolean
  /** The job's environment variables (validated by JobEnvSchema where the spec arrived). */
  env?: Readonly<Record<string, string>>
}

/**
 * The sandbox for a task, or why it may not run here: a job that declares tools this node does
 * not allow is refused before any of its code runs, naming the flag that would allow it.
 */
export function sandboxFor (policy: SandboxPolicy, req: SandboxRequest): SandboxChoice {
  const tools = [...new Set(req.tools ?? [])].sort()
  const bad = tools.filter(t => !TOOL_NAME_RE.test(t))
  if (bad.length > 0) return { ok: false, error: `permission denied: the job declares invalid tool names ${bad.map(t => JSON.stringify(t)).join(', ')}` }
  const missing = tools.filter(t => !policy.allowExec.includes(t))
  if (missing.length > 0) {
    return { ok: false, error: `permission denied: ChildProcess — the job requires ${missing.join(', ')}, which this node does not allow to run (start it with --allow-exec ${[...policy.allowExec, ...missing].join(',')})` }
  }
  const network = req.network === true
  if (network && policy.allowNetwork !== true) return { ok: false, error: 'permission denied: network — the job declares network: true, which this node does not allow (start it with --allow-network)' }
  const envProblem = jobEnvProblem(req.env)
  if (envProblem !== undefined) return { ok: false, error: `permission denied: ${envProblem}` }
  const scratch = req.scratchDir !== undefined ? [resolve(req.scratchDir)] : []
  const fsRead = unique([dirname(resolve(req.childEntry)), resolve(req.modulePath), ...scratch, ...policy.fsRead.map(p => resolve(p))])
  const fsWrite = unique([...scratch, ...policy.fsWrite.map(p => resolve(p))])
  const env = Object.fromEntries(Object.entries(req.env ?? {}).sort(([a], [b]) => a < b ? -1 : 1))
  const mode = policy.mode ?? 'none'
  const home = scratch[0]
  return { ok: true, sandbox: { key: JSON.stringify([mode, fsRead, fsWrite, tools, network, env]), mode, fsRead, fsWrite, tools, network, env, home } }
}

/** A job's own variable may not replace the allowlisted ones nor steer Node, the loader or the executor. */
export const JOB_ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const JOB_ENV_RESERVED_RE = /^(PATH|HOME|NODE_.*|LD_.*|MESHWORK_.*|UV_.*|BASH_ENV|ENV)$/i
export const JOB_ENV_VARS_MAX = 64
export const JOB_ENV_VALUE_CHARS_MAX = 4096

/** Why a job's `env` may not be used, or undefined when it may. */
export function jobEnvProblem (env: Readonly<Record<string, string>> | undefined): string | undefined {
  if (env === undefined) return undefined
  const names = Object.keys(env)
  if (names.length > JOB_ENV_VARS_MAX) return `env: at most ${JOB_ENV_VARS_MAX} variables (got ${names.length})`
  for (const name of names) {
    if (!JOB_ENV_NAME_RE.test(name)) return `env: ${JSON.stringify(name.slice(0, 64))} is not a variable name (letters, digits and _, not starting with a digit)`
    if (JOB_ENV_RESERVED_RE.test(name)) return `env: ${name} is reserved (PATH, HOME, NODE_*, LD_*, MESHWORK_*, UV_* are set by the node)`
    const value = env[name]
    if (typeof value !== 'string') return `env.${name} must be a string`
    if (value.length > JOB_ENV_VALUE_CHARS_MAX || value.includes('\0')) return `env.${name}: at most ${JOB_ENV_VALUE_CHARS_MAX} characters, no NUL`
  }
  return undefined
}

/** The node flags that put an executor in its box (one flag per path: Node 20.20 no longer takes comma lists). */
export function sandboxExecArgv (sandbox: Sandbox, flag: string): string[] {
  return [
    flag,
    '--disable-warning=ExperimentalWarning',
    '--disable-warning=SecurityWarning',
    ...sandbox.fsRead.map(p => `--allow-fs-read=${p}`),
    ...sandbox.fsWrite.map(p => `--allow-fs-write=${p}`),
    ...(sandbox.tools.length > 0 ? ['--allow-child-process'] : []),
  ]
}

/** Environment variable telling an executor which tools its task may start (the child checks each spawn). */
export const TOOLS_ENV = 'MESHWORK_EXECUTOR_TOOLS'

function unique (xs: string[]): string[] { return [...new Set(xs)] }

/**
 * A readable explanation of an error thrown by the permission model, or undefined if `err` is
 * not one. The error names the permission (FileSystemRead, FileSystemWrite, ChildProcess,
 * WorkerThreads) and the resource, and says which node flag would allow it.
 */
export function describeDenial (err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined
  const e = err as { code?: unknown, permission?: unknown, resource?: unknown, message?: unknown }
  if (e.code === 'ERR_DLOPEN_DISABLED') return 'permission denied: native addons cannot be loaded by task code'
  if (e.code !== 'ERR_ACCESS_DENIED') return undefined
  if (typeof e.permission !== 'string' || e.permission === '') {
    // process.binding and the like: Node names the API in the message.
    return `permission denied: ${typeof e.message === 'string' ? e.message : 'access'} (internal Node APIs are closed to task code)`
  }
  const permission = e.permission
  const resource = typeof e.resource === 'string' && e.resource !== '' ? ` of ${e.resource}` : ''
  const hint: Record<string, string> = {
    FileSystemRead: 'tasks may read only their job\'s code and their scratch dir (ctx.scratchDir); the node widens this with --allow-fs-read',
    FileSystemWrite: 'tasks may write only in their scratch dir (ctx.scratchDir); the node widens this with --allow-fs-write',
    ChildProcess: 'a job module must declare requires: { tools: [...] } and the node allow them with --allow-exec',
    WorkerThreads: 'tasks may not start worker threads',
  }
  const why = hint[permission] ?? (typeof e.message === 'string' ? e.message : '')
  return `permission denied: ${permission}${resource} (${why})`
}
