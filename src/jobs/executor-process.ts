// One executor child process: how it is started (heap limit, niceness, IPC), what is kept of its
// stderr, and how its death is classified. The pool decides what a death means for its tasks.
import { execFile, fork, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import type { ChildMessage, ParentMessage } from './executor-protocol.js'
import { NICENESS_ENV } from './executor-protocol.js'

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
  env: Record<string, string | undefined>
  /** Extra node flags (the sandbox's permission flags). */
  execArgv?: string[]
  onMessage: (msg: ChildMessage) => void
  /** Called once, after the process exited and its stderr drained (or the grace period ended). */
  onGone: (code: number | null, signal: NodeJS.Signals | null) => void
}

export interface ExecutorProcess {
  readonly proc: ChildProcess
  readonly spawnedAtMs: number
  /** Resolves when the OS process is gone (or never started). */
  readonly exited: Promise<void>
  stderrTail: () => string
  send: (msg: ParentMessage) => void
  kill: () => void
  stop: () => void
  cont: () => void
}

export function spawnExecutor (opts: ExecutorProcessOptions): ExecutorProcess {
  const proc = fork(opts.entry, [EXECUTOR_MARKER], {
    // Explicit execArgv: never inherit the daemon's flags (--inspect would fight over a port).
    execArgv: [`--max-old-space-size=${opts.memoryLimitMB}`, ...(opts.execArgv ?? [])],
    serialization: 'json', // see executor-protocol.ts
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...opts.env, [NICENESS_ENV]: String(opts.niceness) },
  })
  const spawnedAtMs = performance.now()
  if (proc.pid !== undefined) {
    try { os.setPriority(proc.pid, opts.niceness) } catch { /* EPERM and the like: the child renices itself too */ }
    if (opts.niceness > 0) setIdleIoClass(proc.pid)
  }

  let tail = ''
  proc.stderr?.setEncoding('utf8')
  proc.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS)
  })
  proc.on('message', (msg: ChildMessage) => opts.onMessage(msg))

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

  const signal = (sig: NodeJS.Signals): void => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try { proc.kill(sig) } catch { /* already gone */ }
    }
  }
  return {
    proc,
    spawnedAtMs,
    exited,
    stderrTail: () => tail,
    send: (msg) => { if (proc.connected) proc.send(msg) },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGSTOP'),
    cont: () => signal('SIGCONT'),
  }
}

let ioniceMissing = false
/** The idle I/O class (ionice -c 3) where util-linux has it; nothing otherwise. */
function setIdleIoClass (pid: number): void {
  if (ioniceMissing || process.platform !== 'linux') return
  execFile('ionice', ['-c', '3', '-p', String(pid)], { timeout: 2000 }, (err) => {
    if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') ioniceMissing = true
  })
}

export interface DeathVerdict { kind: 'oom' | 'exited'; error: string }

/** A V8 heap OOM prints "heap out of memory" and aborts (SIGABRT, or 134 through a shell). */
export function classifyDeath (code: number | null, signal: NodeJS.Signals | null, stderrTail: string, memoryLimitMB: number): DeathVerdict {
  const excerpt = lastLines(stderrTail, 6)
  const suffix = excerpt === '' ? '' : `\n${excerpt}`
  if (/heap out of memory/i.test(stderrTail) || signal === 'SIGABRT' || code === 134) {
    return { kind: 'oom', error: `task ran out of memory (executor heap limit ${memoryLimitMB} MB)${suffix}` }
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
  const compiled = fileURLToPath(new URL('../../dist/src/jobs/executor-child.js', import.meta.url))
  if (existsSync(compiled)) return compiled
  throw new Error(`executor child entry not found at ${sibling} or ${compiled}; run \`npx tsc -p tsconfig.json\` first`)
}
