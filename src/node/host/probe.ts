import { cpus, freemem, totalmem, platform, arch } from 'node:os'
import { readFileSync, statfsSync } from 'node:fs'

// OS probes for the state vector. CPU and I/O load are measured as deltas between two
// samples (not loadavg), so they reflect the last interval.

interface CpuSample { busy: number, total: number }
interface IoSample { ioTicksMs: number, atMs: number }

function sampleCpu (): CpuSample {
  let busy = 0
  let total = 0
  for (const c of cpus()) {
    const t = c.times
    busy += t.user + t.nice + t.sys + t.irq
    total += t.user + t.nice + t.sys + t.irq + t.idle
  }
  return { busy, total }
}

/** Milliseconds spent doing I/O by the busiest whole disk (Linux /proc/diskstats field 13). */
function sampleIo (nowMs: number): IoSample | undefined {
  try {
    let busiest = 0
    for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/)
      const name = f[2] ?? ''
      if (f.length < 14 || /^(loop|ram|dm-)/.test(name) || /\d$/.test(name) && !/^nvme\d+n\d+$/.test(name)) continue
      busiest = Math.max(busiest, Number(f[12]))
    }
    return { ioTicksMs: busiest, atMs: nowMs }
  } catch {
    return undefined
  }
}

export interface HostSample { cpuCores: number, cpuLoad: number, memFree: number, memTotal: number, diskFree: number, ioLoad: number, os: string, arch: string }

export class HostProbe {
  private lastCpu = sampleCpu()
  private lastIo: IoSample | undefined
  constructor (private readonly dataDir: string, nowMs: number) {
    this.lastIo = sampleIo(nowMs)
  }

  sample (nowMs: number): HostSample {
    const cpu = sampleCpu()
    const dTotal = cpu.total - this.lastCpu.total
    const cpuLoad = dTotal > 0 ? clamp01((cpu.busy - this.lastCpu.busy) / dTotal) : 0
    this.lastCpu = cpu
    const io = sampleIo(nowMs)
    let ioLoad = 0
    if (io !== undefined && this.lastIo !== undefined && io.atMs > this.lastIo.atMs) {
      ioLoad = clamp01((io.ioTicksMs - this.lastIo.ioTicksMs) / (io.atMs - this.lastIo.atMs))
    }
    this.lastIo = io
    return { cpuCores: cpus().length, cpuLoad, memFree: freemem(), memTotal: totalmem(), diskFree: diskFree(this.dataDir), ioLoad, os: platform(), arch: arch() }
  }
}

function diskFree (dir: string): number {
  try {
    const s = statfsSync(dir)
    return s.bavail * s.bsize
  } catch {
    return 0
  }
}

function clamp01 (x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0
}
