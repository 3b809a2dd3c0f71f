import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { EXECUTOR_MARKER } from '../../src/node/executor/executor-process.js'

// /proc readings for tests: a node's executors, their state and CPU time, the machine's CPU,
// and CPU hogs that stand in for a machine's owner (always killed, even on failure).

export interface ProcInfo { pid: number, ppid: number, state: string, ticks: number }

export function procInfo (pid: number): ProcInfo | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) }
  } catch {
    return undefined
  }
}

/**
 * The executors a node daemon (by pid) has forked, one entry each: its outermost process (a
 * bubblewrap or a Node) with the CPU ticks of its whole process tree, and 'T' as its state only
 * when every process in that tree is stopped.
 */
export function executorsOf (daemonPid: number): ProcInfo[] {
  const all: ProcInfo[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const info = procInfo(Number(name))
    if (info !== undefined) all.push(info)
  }
  const children = new Map<number, ProcInfo[]>()
  for (const p of all) {
    const list = children.get(p.ppid)
    if (list === undefined) children.set(p.ppid, [p])
    else list.push(p)
  }
  const out: ProcInfo[] = []
  for (const top of children.get(daemonPid) ?? []) {
    let argv: string[] = []
    try { argv = readFileSync(`/proc/${top.pid}/cmdline`, 'utf8').split('\0') } catch { continue }
    if (!argv.includes(EXECUTOR_MARKER)) continue
    const tree = [top]
    for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []))
    const running = tree.find(p => p.state !== 'T')
    out.push({ pid: top.pid, ppid: daemonPid, state: running?.state ?? 'T', ticks: tree.reduce((t, p) => t + p.ticks, 0) })
  }
  return out
}

/** Whole-machine jiffies (all cores), busy and total. */
export function machineTicks (): { busy: number, total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
  const busy = user + nice + system + irq + softirq + steal
  return { busy, total: busy + idle + iowait }
}

/** CPU hogs: `n` plain node processes spinning (not mesh tasks), each in its own process group. */
export class Hogs {
  private readonly procs: ChildProcess[] = []
  get count (): number { return this.procs.length }
  start (n: number): void {
    for (let i = 0; i < n; i++) {
      const p = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: true })
      this.procs.push(p)
    }
  }

  /** Kill every hog and wait until each is gone. Safe to call twice. */
  async stop (): Promise<void> {
    await Promise.all(this.procs.splice(0).map(async p => {
      if (p.exitCode !== null || p.signalCode !== null) return
      const gone = new Promise<void>(resolve => p.once('exit', () => resolve()))
      try { process.kill(-(p.pid as number), 'SIGKILL') } catch { try { p.kill('SIGKILL') } catch { /* gone */ } }
      await gone
    }))
  }
}
