import type { World } from '../world.js'

// Safety and liveness checkers for a DST run, read from the ledger (outside the nodes).
// Safety: no job published twice, every published result correct and complete.
// Liveness: every job finished after the heal, unless the scenario lost it — every member of
// its replica set crashed while holding it (its in-memory copies are gone), or its submitter
// crashed before any coordinator accepted it. Lost work is counted, not excused silently.

export interface CheckResult {
  ok: boolean
  failures: string[]
  lostJobs: number
  lostTasks: number
}

export function checkRun (w: World): CheckResult {
  const failures: string[] = [...w.ledger.violations]
  let lostJobs = 0
  let lostTasks = 0
  for (const e of w.ledger.jobs.values()) {
    if (e.state === 'done') continue
    if (e.state === 'failed') {
      failures.push(`liveness: job ${e.plan.jobId} failed: ${e.error ?? 'unknown error'}`)
      continue
    }
    const since = e.coordinators[0]?.atMs ?? Infinity
    const membersCrashed = e.replicaSet.length > 0 && e.replicaSet.every(m => (w.crashTimes.get(m) ?? []).some(t => t >= since))
    if (membersCrashed || e.submitterLost) {
      lostJobs++
      lostTasks += e.plan.taskCount
      continue
    }
    failures.push(`liveness: job ${e.plan.jobId} did not finish (state ${e.state}, coordinators ${e.coordinators.map(c => `n${c.node}@${c.term}`).join(' ') || 'none'}, stop: ${w.stopReason})`)
  }
  return { ok: failures.length === 0, failures, lostJobs, lostTasks }
}
