import type { RunMetrics } from '../metrics/summary.js'

// The one-paragraph reading, generated from the numbers: every claim below is computed from
// the runs, so it cannot contradict the table. Where a comparison has no data it is omitted.

function fmt (v: number, digits = 2): string { return Number.isFinite(v) ? v.toFixed(digits) : 'n/a' }

function best (runs: readonly RunMetrics[], key: keyof RunMetrics, better: 'lower' | 'higher'): RunMetrics | undefined {
  let pick: RunMetrics | undefined
  for (const r of runs) {
    const v = r[key] as number
    if (!Number.isFinite(v)) continue
    if (pick === undefined || (better === 'lower' ? v < (pick[key] as number) : v > (pick[key] as number))) pick = r
  }
  return pick
}

export function reading (runs: readonly RunMetrics[]): string {
  if (runs.length === 0) return 'No runs.'
  const sizes = [...new Set(runs.map(r => r.nodes))].sort((a, b) => a - b)
  const archs = [...new Set(runs.map(r => r.arch))]
  const parts: string[] = []
  for (const n of [sizes[0] as number, sizes[sizes.length - 1] as number].filter((v, i, a) => a.indexOf(v) === i)) {
    const at = runs.filter(r => r.nodes === n)
    // A run that lost jobs has no makespan worth comparing: name it apart.
    const complete = at.filter(r => r.jobsLost === 0 && r.jobsFailed === 0)
    const incomplete = at.filter(r => !complete.includes(r))
    const fast = best(complete, 'makespanS', 'lower')
    const slow = complete.length > 0 ? complete.reduce((a, b) => (b.makespanS > a.makespanS ? b : a)) : undefined
    const tail = best(complete, 'jobLatencyP99S', 'lower')
    if (fast !== undefined) {
      parts.push(`At N=${n}, ${fast.arch} finishes first (makespan ${fmt(fast.makespanS)} s${slow !== undefined && slow !== fast ? ` vs ${fmt(slow.makespanS)} s for ${slow.arch}` : ''})` +
        (tail !== undefined ? ` and ${tail.arch === fast.arch ? 'also' : tail.arch} has the shortest p99 job latency (${fmt(tail.jobLatencyP99S)} s)` : '') +
        (incomplete.length > 0 ? `; ${incomplete.map(r => r.arch).join(', ')} did not finish every job (${incomplete.map(r => `${r.jobsDone}/${r.jobs}`).join(', ')} done)` : '') + '.')
    } else if (incomplete.length > 0) {
      parts.push(`At N=${n} no architecture finished every job (${incomplete.map(r => `${r.arch} ${r.jobsDone}/${r.jobs}`).join(', ')}).`)
    }
    const hot = at.reduce((a, b) => (b.busiestNodeLoad > a.busiestNodeLoad ? b : a))
    if (hot.busiestNodeLoad > 0) {
      parts.push(`The most loaded single node at N=${n} is ${hot.busiestNode} under ${hot.arch}, using ${fmt(hot.busiestNodeLoad * 100, 1)}% of a core on control work` +
        (hot.busiestNodeLoad >= 0.8 ? ', which makes it the bottleneck' : '') + '.')
    }
  }
  const p2pBig = runs.filter(r => r.arch === 'p2p').sort((a, b) => b.nodes - a.nodes)[0]
  if (p2pBig !== undefined && p2pBig.gossipCpuPerNode > 0) {
    parts.push(`Full-state gossip is p2p's price: at N=${p2pBig.nodes} every node relays ${fmt(p2pBig.msgsPerNodePerS, 0)} messages/s on average, about ${fmt(p2pBig.gossipCpuPerNode * 100, 1)}% of a core (counted, not charged to the nodes)` +
      (p2pBig.gossipCpuPerNode >= 1 ? ', more than a whole core, so gossip as configured does not scale to that size' : '') + '.')
  }
  const lost = runs.filter(r => r.jobsLost > 0)
  if (lost.length > 0) {
    const byArch = archs.map(a => [a, lost.filter(r => r.arch === a).reduce((s, r) => s + r.jobsLost, 0)] as const).filter(([, k]) => k > 0)
    parts.push(`Jobs were lost under ${byArch.map(([a, k]) => `${a} (${k})`).join(', ')}` +
      (archs.includes('p2p') && !byArch.some(([a]) => a === 'p2p') ? ', while p2p lost none' : '') + '.')
  }
  const rec = runs.filter(r => r.recoveries > 0)
  if (rec.length > 0) {
    const mean = rec.reduce((s, r) => s + r.recoveryMsMean * r.recoveries, 0) / rec.reduce((s, r) => s + r.recoveries, 0)
    parts.push(`After a coordinator died, a backup took the job over in ${fmt(mean / 1000)} s on average (detection plus a majority claim).`)
  }
  const det = runs.filter(r => r.detections > 0)
  if (det.length > 0) {
    const mean = det.reduce((s, r) => s + r.detectionMsMean * r.detections, 0) / det.reduce((s, r) => s + r.detections, 0)
    parts.push(`Crashed nodes were declared dead ${fmt(mean / 1000)} s after the crash on average.`)
  }
  return parts.join(' ')
}
