import type { World } from '../world.js'
import { taskWorkMs } from '../workload/workloads.js'
import { expectedResult } from '../workload/task-values.js'
import type { SimMessage } from '../net/messages.js'
import type { RunningTask, SimNode } from './sim-node.js'

// The worker side of a node, as src/node/task-worker.ts does it: refuse assignments from a
// stale coordinator term, run tasks on free executor slots (FIFO beyond them), answer each
// with task.ok to the coordinator that sent it, abort on request or takeover. A group attempt
// (several tasks in one assign) takes one slot for all of its tasks' run time.

const QUEUE_MAX = 10_000

type Assign = Extract<SimMessage, { t: 'task.assign' }>

export function onAssign (w: World, node: SimNode, from: number, m: Assign): void {
  const known = node.jobTerms.get(m.jobId) ?? 0
  if (m.term < known) {
    w.send(node.index, from, { t: 'task.failed', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, error: `stale-term: job has a coordinator with term ${known}`, retryable: true })
    return
  }
  if (m.term > known) rememberTerm(node, m.jobId, m.term)
  if (node.running.has(m.attemptId) || node.queued.has(m.attemptId)) return
  if (node.policy !== undefined && !node.policy.view().accepting) {
    // Yielding to its owner: hand it back (the binding's TaskWorker does the same).
    w.send(node.index, from, { t: 'task.failed', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, error: 'returned: node not accepting', retryable: true, returned: true })
    return
  }
  const group = m.group?.map(([i]) => i)
  if (!node.paused && node.slotsFree > 0 && node.queued.size === 0) return start(w, node, from, m.jobId, m.taskIndex, m.attemptId, group)
  if (node.queued.size >= QUEUE_MAX) {
    w.send(node.index, from, { t: 'task.failed', jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, error: 'overloaded: worker queue full', retryable: true })
    return
  }
  node.queue.push({ from, jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, term: m.term, ...(group !== undefined ? { group } : {}) })
  node.queued.add(m.attemptId)
}

function rememberTerm (node: SimNode, jobId: string, term: number): void {
  if (node.jobTerms.size >= 10_000) node.jobTerms.delete(node.jobTerms.keys().next().value as string)
  node.jobTerms.set(jobId, term)
}

function start (w: World, node: SimNode, from: number, jobId: string, taskIndex: number, attemptId: string, group?: readonly number[]): void {
  const plan = w.jobsById.get(jobId)
  if (plan === undefined) return
  const ownerLoad = w.ownerLoadOf(node)
  let workMs = taskWorkMs(plan, taskIndex) + w.cfg.node.taskOverheadMs
  if (group !== undefined) for (const i of group) workMs += taskWorkMs(plan, i) + w.cfg.node.taskOverheadMs
  const durationMs = workMs / node.speed / Math.max(0.05, 1 - ownerLoad)
  const task: RunningTask = { from, jobId, taskIndex, startedMs: w.sim.nowMs, durationMs, ...(group !== undefined ? { group } : {}) }
  node.running.set(attemptId, task)
  w.loadChanged(node)
  complete(w, node, attemptId, task, durationMs)
}

/** Ends the task after `afterMs` of run time, unless it was aborted, paused or crashed meanwhile. */
function complete (w: World, node: SimNode, attemptId: string, task: RunningTask, afterMs: number): void {
  const { jobId, taskIndex, from, durationMs, group } = task
  const plan = w.jobsById.get(jobId)
  if (plan === undefined) return
  const epoch = node.epoch
  w.sim.after(afterMs, () => {
    if (node.epoch !== epoch || node.running.get(attemptId) !== task) return // aborted, paused or crashed meanwhile
    node.running.delete(attemptId)
    node.slotBusyMs += durationMs
    const valueOf = (i: number): number => {
      const value = expectedResult(plan.seed, i)
      return w.injectWrongResult(jobId, i) ? (value + 1) >>> 0 : value
    }
    const tasks = 1 + (group?.length ?? 0)
    node.tasksRun += tasks
    w.metrics.taskExecutions += tasks
    w.send(node.index, from, { t: 'task.ok', jobId, taskIndex, attemptId, value: valueOf(taskIndex), ms: durationMs, ...(group !== undefined ? { group: group.map(i => [i, valueOf(i)] as [number, number]) } : {}) })
    w.loadChanged(node)
    startNext(w, node)
  })
}

export function startNext (w: World, node: SimNode): void {
  while (!node.paused && node.slotsFree > 0 && node.queueHead < node.queue.length) {
    const q = node.queue[node.queueHead++]
    if (q === undefined) break
    if (!node.queued.delete(q.attemptId)) continue // aborted while queued
    if ((node.jobTerms.get(q.jobId) ?? 0) > q.term) continue
    start(w, node, q.from, q.jobId, q.taskIndex, q.attemptId, q.group)
  }
  if (node.queueHead > 1024 && node.queueHead * 2 > node.queue.length) {
    node.queue = node.queue.slice(node.queueHead)
    node.queueHead = 0
  }
}

function abortAttempt (w: World, node: SimNode, attemptId: string): void {
  const task = node.running.get(attemptId)
  if (task !== undefined) {
    node.running.delete(attemptId)
    node.slotBusyMs += w.sim.nowMs - task.startedMs // partial work, wasted
    w.loadChanged(node)
    startNext(w, node)
  } else {
    node.queued.delete(attemptId)
  }
}

export function onAbort (w: World, node: SimNode, from: number, attemptId: string): void {
  const task = node.running.get(attemptId)
  if (task !== undefined && task.from !== from) return
  abortAttempt(w, node, attemptId)
}

/** A new coordinator took the job over: attempts for the old one are abandoned. */
export function onTakeover (w: World, node: SimNode, jobId: string, term: number, coordinator: number): void {
  if (term <= (node.jobTerms.get(jobId) ?? 0)) return
  rememberTerm(node, jobId, term)
  for (const [attemptId, t] of [...node.running]) if (t.jobId === jobId && t.from !== coordinator) abortAttempt(w, node, attemptId)
}

/**
 * The executors die (crash-worker) on a supervised node: the daemon sees it at once, reports
 * every running task as failed (retryable) and restarts the executors after executorRestartMs.
 */
export function executorCrash (w: World, node: SimNode): void {
  const lost = [...node.running]
  node.running.clear()
  node.slotsDown = node.slots
  for (const [attemptId, t] of lost) {
    node.slotBusyMs += w.sim.nowMs - t.startedMs
    w.send(node.index, t.from, { t: 'task.failed', jobId: t.jobId, taskIndex: t.taskIndex, attemptId, error: 'exited: executor exited unexpectedly', retryable: true, kind: 'exited' })
  }
  w.loadChanged(node)
  const epoch = node.epoch
  w.sim.after(w.cfg.protocol.executorRestartMs, () => {
    if (node.epoch !== epoch) return
    node.slotsDown = 0
    w.loadChanged(node)
    startNext(w, node)
  })
}

/** The owner policy stops the executors: every running task keeps the work it has left. */
export function pauseTasks (w: World, node: SimNode): void {
  if (node.paused) return
  w.accountOwner(node)
  node.paused = true
  const now = w.sim.nowMs
  for (const [attemptId, t] of [...node.running]) {
    // A new object: the pending completion of the old one no longer matches and is ignored.
    node.running.set(attemptId, { ...t, remainingMs: Math.max(0, t.startedMs + t.durationMs - now) })
  }
  w.loadChanged(node)
}

export function resumeTasks (w: World, node: SimNode): void {
  if (!node.paused) return
  w.accountOwner(node)
  node.paused = false
  const now = w.sim.nowMs
  for (const [attemptId, t] of [...node.running]) {
    const left = t.remainingMs ?? 0
    // Run time so far is kept: the task ends `left` from now, as if started that much earlier.
    const resumed: RunningTask = { from: t.from, jobId: t.jobId, taskIndex: t.taskIndex, startedMs: now + left - t.durationMs, durationMs: t.durationMs }
    node.running.set(attemptId, resumed)
    complete(w, node, attemptId, resumed, left)
  }
  w.loadChanged(node)
  startNext(w, node)
}

/** The owner stayed busy past the grace period: hand running and queued tasks back. */
export function giveBackTasks (w: World, node: SimNode): void {
  const now = w.sim.nowMs
  for (const [attemptId, t] of [...node.running]) {
    node.running.delete(attemptId)
    node.slotBusyMs += Math.max(0, t.durationMs - (t.remainingMs ?? Math.max(0, t.startedMs + t.durationMs - now))) // partial work, wasted
    w.send(node.index, t.from, { t: 'task.failed', jobId: t.jobId, taskIndex: t.taskIndex, attemptId, error: 'returned: owner busy', retryable: true, returned: true })
  }
  for (let i = node.queueHead; i < node.queue.length; i++) {
    const q = node.queue[i]
    if (q === undefined || !node.queued.delete(q.attemptId)) continue
    w.send(node.index, q.from, { t: 'task.failed', jobId: q.jobId, taskIndex: q.taskIndex, attemptId: q.attemptId, error: 'returned: owner busy', retryable: true, returned: true })
  }
  node.queue = []
  node.queueHead = 0
  w.loadChanged(node)
}
