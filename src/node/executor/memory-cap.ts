// Resident memory caps for executors. Where the machine delegates a cgroup memory controller
// (v1, or v2 with memory enabled for this cgroup's children) each executor gets its own cgroup
// with the limit, so the kernel stops it at the cap and says so (oom_kill). Elsewhere RLIMIT_AS
// bounds its address space, which makes large allocations fail inside the task. Either way the
// pool also watches each executor's resident memory (process-tree.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const MIB = 1024 * 1024
/**
 * Node reserves about 0.7 GB of address space before it runs a line (heap reservations, code
 * range): RLIMIT_AS has to leave that room above the resident limit it stands in for.
 */
export const ADDRESS_SPACE_HEADROOM_MB = 1024

export type MemoryCapKind = 'cgroup-v1' | 'cgroup-v2' | 'rlimit'

/** One executor's cap: the shell prefix that applies it before exec, and how to read its verdict. */
export interface ExecutorCap {
  /** `sh -c …` words to put before the executor's command line. */
  prefix: string[]
  /** Whether the kernel killed something in this executor's cgroup for memory. */
  oomKilled: () => boolean
  /** Removes the cgroup once the executor is gone. */
  dispose: () => void
}

/** Pools of one process (tests) each get their own cgroup dir: one pool's close() must not remove another's. */
let poolsSeq = 0

export class MemoryCaps {
  private seq = 0
  private constructor (readonly kind: MemoryCapKind, private readonly root: string | undefined) {}

  /** The best cap this machine allows; `useCgroup: false` forces RLIMIT_AS (tests). */
  static detect (useCgroup = true): MemoryCaps {
    if (useCgroup && process.platform === 'linux') {
      const found = findDelegatedCgroup()
      if (found !== undefined) {
        const root = join(found.dir, `meshwork-${process.pid}-${++poolsSeq}`)
        try {
          sweepStale(found.dir)
          mkdirSync(root, { recursive: true })
          if (found.kind === 'cgroup-v2') writeFileSync(join(root, 'cgroup.subtree_control'), '+memory')
          return new MemoryCaps(found.kind, root)
        } catch { /* not ours to write after all */ }
      }
    }
    return new MemoryCaps('rlimit', undefined)
  }

  describe (): string {
    return this.kind === 'rlimit' ? 'RLIMIT_AS' : `${this.kind === 'cgroup-v1' ? 'cgroup v1' : 'cgroup v2'} memory limit`
  }

  forExecutor (limitMB: number): ExecutorCap {
    const bytes = limitMB * MIB
    if (this.root !== undefined) {
      const dir = join(this.root, `e${++this.seq}`)
      try {
        mkdirSync(dir)
        if (this.kind === 'cgroup-v1') {
          writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes))
          tryWrite(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes)) // no escape into swap
        } else {
          writeFileSync(join(dir, 'memory.max'), String(bytes))
          tryWrite(join(dir, 'memory.swap.max'), '0')
        }
        const events = join(dir, this.kind === 'cgroup-v1' ? 'memory.oom_control' : 'memory.events')
        return {
          // The shell joins the cgroup, then becomes the executor: nothing runs outside the cap.
          prefix: ['/bin/sh', '-c', `echo $$ > '${join(dir, 'cgroup.procs')}' && exec "$@"`, 'meshwork-executor'],
          oomKilled: () => oomKills(events) > 0,
          dispose: () => { try { rmdirSync(dir) } catch { /* a process is still leaving */ } },
        }
      } catch { /* fall through to RLIMIT_AS */ }
    }
    const kib = Math.floor((bytes + ADDRESS_SPACE_HEADROOM_MB * MIB) / 1024)
    return { prefix: ['/bin/sh', '-c', `ulimit -v ${kib} && exec "$@"`, 'meshwork-executor'], oomKilled: () => false, dispose: () => {} }
  }

  close (): void {
    if (this.root === undefined) return
    try {
      for (const e of readdirSync(this.root)) if (/^e\d+$/.test(e)) tryRmdir(join(this.root, e))
      rmdirSync(this.root)
    } catch { /* executors still exiting: removed by the next start's sweep */ }
  }
}

function oomKills (eventsFile: string): number {
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync(eventsFile, 'utf8'))
    return m === null ? 0 : Number(m[1])
  } catch { return 0 }
}

/** The cgroup this process may create capped children in, if any. */
function findDelegatedCgroup (): { kind: MemoryCapKind, dir: string } | undefined {
  let lines: string[]
  try { lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n') } catch { return undefined }
  const v1 = lines.map(l => l.split(':')).find(p => p[1]?.split(',').includes('memory'))
  if (v1 !== undefined) {
    const dir = join('/sys/fs/cgroup/memory', v1[2] ?? '/')
    return existsSync(join(dir, 'memory.limit_in_bytes')) ? { kind: 'cgroup-v1', dir } : undefined
  }
  const v2 = lines.find(l => l.startsWith('0::'))
  if (v2 === undefined) return undefined
  const dir = join('/sys/fs/cgroup', v2.slice(3))
  // The children of a cgroup get a memory controller only where it is in subtree_control, and
  // a cgroup with processes (this daemon) may not enable it for them: a manager must have.
  try {
    if (!readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) return undefined
  } catch { return undefined }
  return { kind: 'cgroup-v2', dir }
}

/** meshwork-<pid>-<n> dirs of daemons that are gone (a crash leaves them). */
function sweepStale (dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = /^meshwork-(\d+)-\d+$/.exec(name)
    if (m === null || existsSync(`/proc/${m[1]}`)) continue
    const root = join(dir, name)
    try { for (const e of readdirSync(root)) if (/^e\d+$/.test(e)) tryRmdir(join(root, e)) } catch { /* */ }
    tryRmdir(root)
  }
}

function tryWrite (file: string, value: string): void { try { writeFileSync(file, value) } catch { /* optional knob */ } }
function tryRmdir (dir: string): void { try { rmdirSync(dir) } catch { /* busy */ } }
