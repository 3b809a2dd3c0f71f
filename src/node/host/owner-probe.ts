import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { EXECUTOR_MARKER } from '../executor/executor-process.js'

// What the owner policy needs to know about the machine, read from /proc (Linux):
// - the owner's CPU load: the whole machine's busy time minus the time of every Meshwork
//   process on it (executors, marked by an argv flag, and node daemons) — several nodes may
//   share one machine and must not count each other's executors as the owner's — and minus
//   idle-priority work (nice 19: batch jobs that already give way to the owner, executors of
//   older Meshwork versions without the marker among them);
// - the CPU used by this node's executors (for --max-cpu);
// - whether the console is in use (logind IdleHint), where logind runs.
// Elsewhere (no /proc) the owner load reads 0 and the policy behaves as dedicated.

/** The whole machine's CPU time since boot (clock ticks): busy, and busy + idle. */
export interface MachineSample { busy: number, total: number }

export function readMachine (): MachineSample | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
    const busy = user + nice + system + irq + softirq + steal
    return { busy, total: busy + idle + iowait }
  } catch {
    return undefined
  }
}

/** utime + stime (clock ticks, the unit of /proc/stat) and the state letter of a process. */
export function readProcStat (pid: number): { ticks: number, state: string, ppid: number, nice: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: rest[0] ?? '?', ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), nice: Number(rest[16]) }
  } catch {
    return undefined
  }
}

function readArgv (pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/** A Meshwork executor (any node's) or a Meshwork node daemon. */
export function isMeshProcess (argv: string[]): boolean {
  if (argv.includes(EXECUTOR_MARKER)) return true
  return argv.includes('start') && argv.some(a => /(^|\/)meshwork(\.js)?$/.test(a))
}

/** Pids of every Meshwork executor on the machine (all nodes). */
export function meshExecutorPids (): number[] {
  const out: number[] = []
  for (const pid of listPids()) if (readArgv(pid).includes(EXECUTOR_MARKER)) out.push(pid)
  return out
}

function listPids (): number[] {
  try {
    return readdirSync('/proc').filter(n => /^\d+$/.test(n)).map(Number)
  } catch {
    return []
  }
}

export interface OwnerSample {
  /** 0..1 of the whole machine. */
  ownerCpuLoad: number
  /** CPU of this node's executors over the interval, 0..1 of the whole machine. */
  ownExecutorShare: number
  consoleActive: boolean | undefined
}

export class OwnerProbe {
  private last = readMachine()
  /** pid → ticks at the last sample, for every Meshwork process seen. */
  private meshTicks = new Map<number, number>()
  /** Argv is read once per pid (pids of exited processes are forgotten). */
  private readonly meshPid = new Map<number, boolean>()
  private consoleActive: boolean | undefined
  private consoleAvailable = true
  private consoleCheckedMs = -Infinity

  /** `watchConsole`: ask logind about the console (desktop policy only). */
  constructor (watchConsole = true) {
    this.consoleAvailable = watchConsole && process.platform === 'linux'
    this.scanMesh(new Set())
  }

  /** `ownPids`: this node's executors. */
  sample (ownPids: ReadonlySet<number>, nowMs: number): OwnerSample {
    const machine = readMachine()
    const prev = this.last
    this.last = machine
    const { meshDelta, ownDelta } = this.scanMesh(ownPids)
    this.maybeCheckConsole(nowMs)
    if (machine === undefined || prev === undefined || machine.total <= prev.total) return { ownerCpuLoad: 0, ownExecutorShare: 0, consoleActive: this.consoleActive }
    const dTotal = machine.total - prev.total
    const dBusy = machine.busy - prev.busy
    return {
      ownerCpuLoad: clamp01((dBusy - meshDelta) / dTotal),
      ownExecutorShare: clamp01(ownDelta / dTotal),
      consoleActive: this.consoleActive,
    }
  }

  private scanMesh (ownPids: ReadonlySet<number>): { meshDelta: number, ownDelta: number } {
    const next = new Map<number, number>()
    let meshDelta = 0
    let ownDelta = 0
    const pids = listPids()
    const seen = new Set(pids)
    for (const pid of this.meshPid.keys()) if (!seen.has(pid)) this.meshPid.delete(pid)
    for (const pid of pids) {
      let mesh = this.meshPid.get(pid)
      if (mesh === undefined) {
        mesh = isMeshProcess(readArgv(pid)) || ownPids.has(pid)
        this.meshPid.set(pid, mesh)
      }
      const stat = readProcStat(pid)
      if (stat === undefined || !Number.isFinite(stat.ticks)) continue
      if (!mesh && !ownPids.has(pid) && !(stat.nice >= IDLE_NICE)) continue
      next.set(pid, stat.ticks)
      // A process new since the last sample: all its time falls (about) within the interval.
      const delta = stat.ticks - (this.meshTicks.get(pid) ?? 0)
      if (delta > 0) {
        meshDelta += delta
        if (ownPids.has(pid)) ownDelta += delta
      }
    }
    this.meshTicks = next
    return { meshDelta, ownDelta }
  }

  private maybeCheckConsole (nowMs: number): void {
    if (!this.consoleAvailable || nowMs - this.consoleCheckedMs < 5000) return
    this.consoleCheckedMs = nowMs
    // Active local sessions: the console is in use when any of them is not idle.
    execFile('loginctl', ['list-sessions', '--no-legend'], { timeout: 2000 }, (err, stdout) => {
      if (err !== null) { this.consoleAvailable = false; this.consoleActive = undefined; return }
      const ids = stdout.split('\n').map(l => l.trim().split(/\s+/)[0]).filter((id): id is string => id !== undefined && id !== '')
      if (ids.length === 0) { this.consoleActive = false; return }
      execFile('loginctl', ['show-session', ...ids, '-p', 'IdleHint', '-p', 'Active', '-p', 'Remote'], { timeout: 2000 }, (err2, out2) => {
        if (err2 !== null) { this.consoleAvailable = false; this.consoleActive = undefined; return }
        // Blocks separated by blank lines, one per session.
        this.consoleActive = out2.split(/\n\s*\n/).some(block => /Active=yes/.test(block) && /Remote=no/.test(block) && /IdleHint=no/.test(block))
      })
    })
  }
}

/** Processes at this niceness run only on CPU nobody else wants: not the owner's demand. */
const IDLE_NICE = 19

function clamp01 (x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0
}
