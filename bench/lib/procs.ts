import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { createServer } from 'node:net'

// Every process the benchmark starts is registered here and stopped at the end, even when a
// run throws or the benchmark is interrupted: children run in their own process group
// (detached) and are signalled as a group, and a synchronous kill -9 of every group that is
// still alive runs on process exit as a last resort. Children that have an IPC channel exit by
// themselves when it closes (see `exitWithParent`), so a kill -9 of the benchmark leaves
// nothing behind either.

/** Marks every process of one benchmark run (inherited by grandchildren through the environment). */
export const RUN_MARKER_ENV = 'MWBENCH_RUN_ID'

type AsyncCleanup = () => Promise<void>
const asyncCleanups = new Set<AsyncCleanup>()
const groups = new Set<number>()

/** Registers an async cleanup (e.g. `mesh.stop()`); returns a function that unregisters it. */
export function onCleanup (fn: AsyncCleanup): () => void {
  asyncCleanups.add(fn)
  return () => { asyncCleanups.delete(fn) }
}

/** A process group to kill -9 on exit if it is still there. */
export function trackGroup (pid: number | undefined): () => void {
  if (pid === undefined) return () => {}
  groups.add(pid)
  return () => { groups.delete(pid) }
}

function killGroup (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal) } catch { /* gone */ }
}

/** Runs every registered cleanup (each bounded in time), then kills what is left. */
export async function cleanupAll (): Promise<void> {
  const pending = [...asyncCleanups]
  asyncCleanups.clear()
  await Promise.all(pending.map(async fn => {
    await Promise.race([fn().catch(() => {}), new Promise(resolve => setTimeout(resolve, 15_000))])
  }))
  for (const pid of groups) killGroup(pid, 'SIGKILL')
  groups.clear()
}

let installed = false
/** Last-resort handlers: kill -9 every tracked group on exit; SIGINT/SIGTERM clean up first. */
export function installExitHandlers (): void {
  if (installed) return
  installed = true
  process.on('exit', () => { for (const pid of groups) killGroup(pid, 'SIGKILL') })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process the benchmark started …\n`)
      void cleanupAll().finally(() => process.exit(130))
    })
  }
}

export interface Spawned {
  proc: ChildProcess
  pid: number
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop: (graceMs?: number) => Promise<void>
  exited: Promise<number | null>
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  logFile?: string
  /** Give the child an IPC channel (node children only). */
  ipc?: boolean
}

/** Spawns a child in its own process group, logging to `logFile`, registered for cleanup. */
export function spawnGroup (command: string, args: string[], opts: SpawnOptions = {}): Spawned {
  const out = opts.logFile !== undefined ? openSync(opts.logFile, 'a') : 'ignore'
  const stdio: Array<'ignore' | 'ipc' | number> = ['ignore', out, out]
  if (opts.ipc === true) stdio.push('ipc')
  const proc = spawn(command, args, { stdio, detached: true, env: { ...process.env, ...opts.env } })
  if (typeof out === 'number') closeSync(out)
  const pid = proc.pid
  if (pid === undefined) throw new Error(`cannot spawn ${command}`)
  const untrack = trackGroup(pid)
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => { untrack(); resolve(code) }))
  proc.on('error', () => {})
  const stop = async (graceMs = 5000): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) { killGroup(pid, 'SIGKILL'); return }
    killGroup(pid, 'SIGTERM')
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
    killGroup(pid, 'SIGKILL') // anything of the group that outlived its leader
  }
  const unregister = onCleanup(async () => { await stop(2000) })
  void exited.then(() => unregister())
  return { proc, pid, stop, exited }
}

/** For child scripts: exit when the parent's IPC channel closes (the parent died or let go). */
export function exitWithParent (onExit: () => Promise<void> | void): void {
  if (process.send === undefined) return
  let exiting = false
  const go = (): void => {
    if (exiting) return
    exiting = true
    const hard = setTimeout(() => process.exit(0), 3000)
    hard.unref()
    void Promise.resolve().then(onExit).catch(() => {}).finally(() => process.exit(0))
  }
  process.on('disconnect', go)
  process.on('SIGTERM', go)
  process.on('message', (m: unknown) => { if (m === 'stop') go() })
}

/** A free TCP port on 127.0.0.1 (closed again before use: there is a small race). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Waits for a `{ ready: … }` message from a child with IPC. */
export async function waitForReady<T = unknown> (child: Spawned, what: string, timeoutMs = 60_000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeoutMs} ms`)), timeoutMs)
    child.proc.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'ready' in m) { clearTimeout(timer); resolve((m as { ready: T }).ready) }
      if (typeof m === 'object' && m !== null && 'fatal' in m) { clearTimeout(timer); reject(new Error(`${what}: ${String((m as { fatal: unknown }).fatal)}`)) }
    })
    void child.exited.then(code => { clearTimeout(timer); reject(new Error(`${what} exited (${String(code)}) before it was ready`)) })
  })
}
