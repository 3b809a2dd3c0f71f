import { ABORTED_KIND, type ExecOutcome, type WorkerEffect } from '../../src/jobs/worker-core.js'
import type { World } from '../world.js'
import { taskWorkMs } from '../workload/workloads.js'
import { expectedResult } from '../workload/task-values.js'
import type { SimMessage } from '../net/messages.js'
import { nodeIndexOf, type RunningTask, type SimNode } from './sim-node.js'

// The worker role of a simulated node: its decisions are the node's own WorkerCore
// (src/jobs/worker-core.ts: stale terms, hand-backs, takeovers, the answers); this file binds
// it to a model of the executor pool — free slots run attempts, FIFO beyond them, each takes
// its tasks' modelled work time, the owner policy pauses them — in place of real executors.
// A group attempt takes one slot for all of its tasks' run time.

const QUEUE_MAX = 10_000

type Assign = Extract<SimMessage, { t: 'task.assign' }>

export function onAssign (w: World, node: SimNode, from: number, m: Assign): void {
  const accepting = node.policy === undefined || node.policy.view().accepting
  apply(w, node, node.worker.assign(w.nodes[from]!.id, m, accepting, true))
}

export function onAbort (w: World, node: SimNode, from: number, attemptId: string): void {
  apply(w, node, node.worker.abort(w.nodes[from]!.id, attemptId))
}

/** A new coordinator took the job over: attempts for the old one are abandoned. */
export function onTakeover (w: World, node: SimNode, jobId: string, term: number, coordinator: string): void {
  apply(w, node, node.worker.takeover(jobId, term, coordinator))
}

/** The owner stayed busy past the grace period: hand running and queued tasks back. */
export function giveBackTasks (w: World, node: SimNode): void {
  apply(w, node, node.worker.giveBack())
  w.loadChanged(node)
}

function apply (w: World, node: SimNode, effects: WorkerEffect[]): void {
  for (const e of effects) {
    if (e.type === 'send') w.send(node.index, nodeIndexOf(e.to), e.message as SimMessage)
    else if (e.type === 'run') run(w, node, nodeIndexOf(e.from), e.task)
    else abortAttempt(w, node, e.attemptId)
  }
}

function finished (w: World, node: SimNode, attemptId: string, outcome: ExecOutcome): void {
  apply(w, node, node.worker.finished(attemptId, outcome))
}

function run (w: World, node: SimNode, from: number, m: Assign): void {
  const group = m.group?.map(([i]) => i)
  if (!node.paused && node.slotsFree > 0 && node.queued.size === 0) return start(w, node, from, m.jobId, m.taskIndex, m.attemptId, group)
  if (node.queued.size >= QUEUE_MAX) return finished(w, node, m.attemptId, { ok: false, kind: 'overloaded', error: 'worker queue full' })
  node.queue.push({ from, jobId: m.jobId, taskIndex: m.taskIndex, attemptId: m.attemptId, term: m.term, ...(group !== undefined ? { group } : {}) })
  node.queued.add(m.attemptId)
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
  const { jobId, taskIndex, durationMs, group } = task
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
    finished(w, node, attemptId, { ok: true, value: group === undefined ? valueOf(taskIndex) : [valueOf(taskIndex), ...group.map(valueOf)], durationMs })
    w.loadChanged(node)
    startNext(w, node)
  })
}

export function startNext (w: World, node: SimNode): void {
  while (!node.paused && node.slotsFree > 0 && node.queueHead < node.queue.length) {
    const q = node.queue[node.queueHead++]
    if (q === undefined) break
    if (!node.queued.delete(q.attemptId)) continue // aborted while queued
    start(w, node, q.from, q.jobId, q.taskIndex, q.attemptId, q.group)
  }
  if (node.queueHead > 1024 && node.queueHead * 2 > node.queue.length) {
    node.queue = node.queue.slice(node.queueHead)
    node.queueHead = 0
  }
}

/** The pool stops an attempt, running or queued (as ExecutorPool.abort); its end goes to the core. */
function abortAttempt (w: World, node: SimNode, attemptId: string): void {
  const task = node.running.get(attemptId)
  if (task !== undefined) {
    node.running.delete(attemptId)
    // Partial work, wasted (a paused task did none while paused).
    node.slotBusyMs += Math.max(0, task.durationMs - (task.remainingMs ?? Math.max(0, task.startedMs + task.durationMs - w.sim.nowMs)))
    w.loadChanged(node)
    startNext(w, node)
  } else if (!node.queued.delete(attemptId)) {
    return
  }
  finished(w, node, attemptId, { ok: false, kind: ABORTED_KIND, error: 'task aborted' })
}

/**
 * The executors die (crash-worker) on a supervised node: the daemon sees it at once, reports
 * every running task as failed and restarts the executors after executorRestartMs.
 */
export function executorCrash (w: World, node: SimNode): void {
  const lost = [...node.running]
  node.running.clear()
  node.slotsDown = node.slots
  for (const [attemptId, t] of lost) {
    node.slotBusyMs += w.sim.nowMs - t.startedMs
    finished(w, node, attemptId, { ok: false, kind: 'exited', error: 'executor exited unexpectedly' })
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
    const resumed: RunningTask = { from: t.from, jobId: t.jobId, taskIndex: t.taskIndex, startedMs: now + left - t.durationMs, durationMs: t.durationMs, ...(t.group !== undefined ? { group: t.group } : {}) }
    node.running.set(attemptId, resumed)
    complete(w, node, attemptId, resumed, left)
  }
  w.loadChanged(node)
  startNext(w, node)
}
