// An executor is a small tree of processes (the shell that applies its caps becomes bwrap, whose
// sandbox init starts Node, which may start tools): CPU time, resident memory, signals and the
// owner policy's view all need the whole tree, read from /proc.
import { readFileSync } from 'node:fs'

/** Most processes followed under one executor (a fork bomb is the pids limit's business). */
const TREE_PIDS_MAX = 256
const PAGE_BYTES = 4096

/** `pid` and its descendants, parents first. */
export function processTree (pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length && out.length < TREE_PIDS_MAX; i++) {
    const p = out[i] as number
    let children: string
    try { children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8') } catch { continue }
    for (const c of children.split(' ')) if (c !== '' && out.length < TREE_PIDS_MAX) out.push(Number(c))
  }
  return out
}

export interface TreeUsage { cpuMs: number, rssBytes: number }

/** CPU time (user + system) and resident memory of the processes in `pids`. */
export function treeUsage (pids: readonly number[]): TreeUsage {
  let cpuMs = 0
  let rssBytes = 0
  for (const pid of pids) {
    let stat: string
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { continue }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    cpuMs += (Number(fields[11]) + Number(fields[12])) * 10 // clock ticks of 10 ms (USER_HZ = 100)
    rssBytes += Number(fields[21]) * PAGE_BYTES
  }
  return { cpuMs, rssBytes }
}

/** Sends `signal` to every process of the tree (SIGSTOP must reach Node, not only its wrappers). */
export function signalTree (pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try { process.kill(pid, signal) } catch { /* gone */ }
  }
}
