import type { LocalMetrics } from '../../src/gossip/state-vector.js'
import type { SimNode } from '../model/sim-node.js'

// The vector fields a simulated node reports, as the daemon's probes would: slots from the
// executor, CPU load from running tasks plus the owner's load, `accepting` off while the
// owner is busy. Field values are plausible constants where the model has nothing to say.

export function localMetrics (node: SimNode, ownerLoad: number, accepting: boolean, nowMs: number): LocalMetrics {
  const running = node.running.size
  const taskLoad = node.slots > 0 ? Math.min(1, running / node.slots) : 0
  return {
    addrs: [`/ip4/10.${(node.index >> 16) & 255}.${(node.index >> 8) & 255}.${node.index & 255}/tcp/7071`],
    cpuCores: node.slots,
    cpuLoad: Math.round(Math.min(1, taskLoad * (1 - ownerLoad) + ownerLoad) * 100) / 100,
    memFree: 8 * 2 ** 30,
    memTotal: 16 * 2 ** 30,
    diskFree: 100 * 2 ** 30,
    ioLoad: 0,
    slotsTotal: node.slots,
    slotsFree: node.slotsFree,
    runningTasks: running,
    uptimeMs: Math.max(0, Math.round(nowMs - node.startedAtMs)),
    softwareVersion: '0.1.0',
    ownerCpuLoad: ownerLoad,
    accepting,
    labels: {},
    tools: [],
    os: 'linux',
    arch: 'x64',
    nodeVersion: 'v20.20.2',
    bootId: bootIdOf(node),
  }
}

/** Random per process start in the daemon; here the node index and its start incarnation. */
export function bootIdOf (node: SimNode): string { return `${node.index}-${node.incarnation}` }
