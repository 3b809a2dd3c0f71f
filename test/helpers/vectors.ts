import type { LocalMetrics, StateVector } from '../../src/gossip/state-vector.js'

export function metrics (overrides: Partial<LocalMetrics> = {}): LocalMetrics {
  return {
    addrs: ['/ip4/127.0.0.1/tcp/4001'],
    cpuCores: 2, cpuLoad: 0.1, memFree: 1e9, memTotal: 2e9, diskFree: 1e10, ioLoad: 0,
    slotsTotal: 2, slotsFree: 2, runningTasks: 0, uptimeMs: 0, softwareVersion: '0.1.0',
    ownerCpuLoad: 0, accepting: true, labels: {}, tools: [], os: 'linux', arch: 'x64', nodeVersion: 'v20', bootId: 'b0',
    ...overrides,
  }
}

export function vector (peerId: string, overrides: Partial<StateVector> = {}): StateVector {
  return { ...metrics(), peerId, incarnation: 1, version: 1, status: 'alive', ...overrides }
}
