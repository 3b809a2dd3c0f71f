import type { SandboxPolicy } from '../node/executor/sandbox.js'

// What a node accepts, from whom, and how much. Every limit has a flag on `meshwork start`;
// going over one gives the sender a clear error naming that flag, never a crash or an unbounded queue.

export interface SecurityOptions {
  /** Executors run in bubblewrap (mode 'bwrap') and Node's permission model with this policy; undefined: no box at all (tests). */
  sandbox: SandboxPolicy | undefined
  /** Jobs that declare `network: true` run here (--allow-network); the node says so in its state vector. */
  allowNetwork: boolean
  /** CPU time a task may use (--task-cpu-ms); undefined: only the wall-clock --task-timeout-ms. */
  taskCpuMsMax: number | undefined
  /** Largest task or job result, as JSON bytes (--max-result-bytes). */
  resultBytesMax: number
  /** Most tasks (chunks from split) per job (--max-tasks-per-job). */
  tasksPerJobMax: number
  /** Most unfinished jobs per submitting node (--max-jobs-per-submitter). */
  jobsPerSubmitterMax: number
  /** Peer ids allowed to submit jobs (--allow-submit); undefined: every peer holding the mesh key. */
  allowSubmit: ReadonlySet<string> | undefined
}

export const DEFAULT_SECURITY: SecurityOptions = {
  sandbox: { mode: 'bwrap', allowNetwork: false, allowExec: [], fsRead: [], fsWrite: [] },
  allowNetwork: false,
  taskCpuMsMax: undefined,
  resultBytesMax: 64 * 1024 * 1024,
  tasksPerJobMax: 1_000_000,
  jobsPerSubmitterMax: 64,
  allowSubmit: undefined,
}

export function securityOptions (overrides: Partial<SecurityOptions> = {}): SecurityOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([k, v]) => v !== undefined || k === 'sandbox')) as Partial<SecurityOptions>
  return { ...DEFAULT_SECURITY, ...defined }
}
