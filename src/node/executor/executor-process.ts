// One executor child process: how it is started (heap limit, niceness, IPC), what is kept of its
// stderr, and how its death is classified. The pool decides what a death means for its tasks.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ParentMessage } from './executor-protocol.js'
import { processTree, signalTree } from './process-tree.js'

/**
 * In every executor's argv, so any node on the machine can tell mesh executors from the owner's
 * processes in /proc (the owner policy subtracts their CPU from the machine's).
 */
export const EXECUTOR_MARKER = '--meshwork-executor'

/** Enough stderr to show a V8 fatal error or the last lines a task printed before dying. */
const STDERR_TAIL_CHARS = 4096
/** After 'exit', how long to wait for stderr to drain (a grandchild may hold it open). */
const STDERR_GRACE_MS = 1000

export interface ExecutorProcessOptions {
  entry: string
  memoryLimitMB: number
  niceness: number
  /** The whole environment of the executor (executor-env.ts: an allowlist). */
  env: Record<string, string>
  /** Extra node flags (the sandbox's permission flags). */
  execArgv?: string[]
  /**
   * Words put before `node …`, outermost first: the memory cap's shell, then the OS sandbox
   * (`bwrap … --`). Each execs the next, so the spawned pid stays the executor's handle.
   */
  wrappers?: string[]
  /** Unvalidated: the pool parses every message with ChildMessageSchema. */
  onMessage: (msg: unknown) => void
  /** Called once, after the process exited and its stderr drained (or the grace period ended). */
  onGone: (code: number | null, signal: NodeJS.Signals | null) => void
}

export interface ExecutorProcess {
  readonly proc: ChildProcess
  readonly spawnedAtMs: number
  /** Resolves when the OS process is gone (or never started). */
  readonly exited: Promise<void>
  stderrTail: () => string
  /** The executor's processes (wrappers, Node, what the task started), parents first. */
  pids: () => number[]
  send: (msg: ParentMessage) => void
  kill: () => void
  stop: () => void
  cont: () => void
}

export function spawnExecutor (opts: ExecutorProcessOptions): ExecutorProcess {
  // Niceness and the idle I/O class are set before exec, so every thread and process of the
  // executor inherits them (niceness is per thread on Linux: renicing the pid later misses V8's).
  const lowPriority = [...(opts.niceness > 0 && ioniceAvailable() ? ['ionice', '-c', '3'] : []), 'nice', '-n', String(opts.niceness)]
  const command = [...(opts.wrappers ?? []), ...(process.platform === 'linux' ? lowPriority : []), process.execPath,
    // Explicit execArgv: never inherit the daemon's flags (--inspect would fight over a port).
    `--max-old-space-size=${opts.memoryLimitMB}`, ...(opts.execArgv ?? []), opts.entry, EXECUTOR_MARKER]
  const proc = spawn(command[0] as string, command.slice(1), {
    serialization: 'json', // see executor-protocol.ts
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: opts.env,
  })
  const spawnedAtMs = performance.now()
  let treeCache: { atMs: number, pids: number[] } | undefined
  const pids = (): number[] => {
    if (proc.pid === undefined) return []
    const nowMs = performance.now()
    // Asked per sample and per CPU check: the tree changes only when a task starts a tool.
    if (treeCache === undefined || nowMs - treeCache.atMs > 200) treeCache = { atMs: nowMs, pids: processTree(proc.pid) }
    return treeCache.pids
  }

  let tail = ''
  proc.stderr?.setEncoding('utf8')
  proc.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS)
  })
  proc.on('message', (msg: unknown) => opts.onMessage(msg))

  let gone = false
  let exitInfo: [number | null, NodeJS.Signals | null] = [null, null]
  let graceTimer: NodeJS.Timeout | undefined
  let markExited!: () => void
  const exited = new Promise<void>(resolve => { markExited = resolve })
  const finish = (): void => {
    if (gone) return
    gone = true
    clearTimeout(graceTimer)
    markExited()
    opts.onGone(...exitInfo)
  }
  proc.on('exit', (code, signal) => {
    exitInfo = [code, signal]
    markExited()
    graceTimer = setTimeout(finish, STDERR_GRACE_MS)
    graceTimer.unref()
  })
  proc.on('close', finish)
  proc.on('error', (err) => {
    // A failed spawn may emit no 'exit'; a failed send is followed by 'exit' anyway.
    if (proc.pid === undefined) {
      tail += `executor spawn failed: ${err.message}\n`
      finish()
    }
  })

  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null
  // SIGKILL to the outer process is enough: bwrap's --die-with-parent takes the sandbox with it.
  // STOP and CONT must reach Node itself.
  const signalAll = (sig: NodeJS.Signals): void => { if (alive()) signalTree(processTree(proc.pid as number), sig) }
  return {
    proc,
    spawnedAtMs,
    exited,
    stderrTail: () => tail,
    pids,
    send: (msg) => { if (proc.connected) proc.send(msg) },
    kill: () => { if (alive()) { try { proc.kill('SIGKILL') } catch { /* already gone */ } } },
    stop: () => signalAll('SIGSTOP'),
    cont: () => signalAll('SIGCONT'),
  }
}

let ionice: boolean | undefined
function ioniceAvailable (): boolean {
  ionice ??= ['/usr/bin/ionice', '/bin/ionice'].some(p => existsSync(p))
  return ionice
}

export interface DeathVerdict { kind: 'oom' | 'exited'; error: string }

/** A V8 heap OOM prints "heap out of memory" and aborts (SIGABRT, or 134 through a shell). */
export function classifyDeath (code: number | null, signal: NodeJS.Signals | null, stderrTail: string, memoryLimitMB: number, oomKilled = false): DeathVerdict {
  const excerpt = lastLines(stderrTail, 6)
  const suffix = excerpt === '' ? '' : `\n${excerpt}`
  if (oomKilled) return { kind: 'oom', error: `task ran out of memory: the executor went over its limit of ${memoryLimitMB} MB resident (--memory-limit-mb) and the kernel stopped it${suffix}` }
  if (/heap out of memory|Fatal process out of memory|allocation failed/i.test(stderrTail) || signal === 'SIGABRT' || code === 134) {
    return { kind: 'oom', error: `task ran out of memory (executor limit ${memoryLimitMB} MB, --memory-limit-mb)${suffix}` }
  }
  const how = signal !== null ? `signal ${signal}` : `exit code ${code ?? 'unknown'}`
  return { kind: 'exited', error: `task ended the executor process (${how})${suffix}` }
}

function lastLines (text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n').slice(-1000)
}

/**
 * The compiled child entry next to this file; when this module runs from TypeScript source
 * (vitest), the compiled copy under dist/ instead.
 */
export function defaultChildEntry (): string {
  const sibling = fileURLToPath(new URL('./executor-child.js', import.meta.url))
  if (existsSync(sibling)) return sibling
  const compiled = fileURLToPath(new URL('../../../dist/src/node/executor/executor-child.js', import.meta.url))
  if (existsSync(compiled)) return compiled
  throw new Error(`executor child entry not found at ${sibling} or ${compiled}; run \`npx tsc -p tsconfig.json\` first`)
}
