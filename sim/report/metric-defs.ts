import type { RunMetrics } from '../metrics/summary.js'

// The metrics shown in the report: column label, how to format, and which way is better
// (used by the generated reading). One list so the table, the charts and the prose agree.

export interface MetricDef {
  key: keyof RunMetrics
  label: string
  unit: string
  digits: number
  better: 'lower' | 'higher'
  chart: boolean
}

export const METRICS: readonly MetricDef[] = [
  { key: 'makespanS', label: 'makespan', unit: 's', digits: 2, better: 'lower', chart: true },
  { key: 'throughputTasksPerS', label: 'throughput', unit: 'tasks/s', digits: 0, better: 'higher', chart: true },
  { key: 'utilisation', label: 'utilisation', unit: 'fraction', digits: 3, better: 'higher', chart: true },
  { key: 'jobLatencyP50S', label: 'job latency p50', unit: 's', digits: 2, better: 'lower', chart: true },
  { key: 'jobLatencyP99S', label: 'job latency p99', unit: 's', digits: 2, better: 'lower', chart: true },
  { key: 'msgsPerNodePerS', label: 'msgs/node/s (mean)', unit: 'msgs/s', digits: 0, better: 'lower', chart: true },
  { key: 'msgsBusiestNodePerS', label: 'msgs/s busiest node', unit: 'msgs/s', digits: 0, better: 'lower', chart: true },
  { key: 'bytesPerNodePerS', label: 'bytes/node/s (mean)', unit: 'B/s', digits: 0, better: 'lower', chart: true },
  { key: 'bytesBusiestNodePerS', label: 'bytes/s busiest node', unit: 'B/s', digits: 0, better: 'lower', chart: false },
  { key: 'busiestNodeLoad', label: 'busiest node control-plane load', unit: 'cores', digits: 3, better: 'lower', chart: true },
  { key: 'gossipCpuPerNode', label: 'gossip relay CPU per node (counted)', unit: 'cores', digits: 3, better: 'lower', chart: false },
  { key: 'detectionMsMean', label: 'failure detection', unit: 'ms', digits: 0, better: 'lower', chart: false },
  { key: 'recoveryMsMean', label: 'job recovery after coordinator death', unit: 'ms', digits: 0, better: 'lower', chart: false },
  { key: 'jobsLost', label: 'jobs lost', unit: 'jobs', digits: 0, better: 'lower', chart: true },
  { key: 'wastedExecutions', label: 'wasted task executions', unit: 'tasks', digits: 0, better: 'lower', chart: false },
  { key: 'ownerStolenCpuS', label: 'owner time stolen', unit: 'CPU-s', digits: 1, better: 'lower', chart: false },
]

export function formatValue (v: unknown, digits: number): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—'
  if (Math.abs(v) >= 1e6) return v.toExponential(2)
  return v.toFixed(digits)
}
