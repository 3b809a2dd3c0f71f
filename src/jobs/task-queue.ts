// One job's queue of tasks waiting for a worker. Fresh tasks are never materialised as a
// list (a million-task job costs one cursor): they are taken in index order. Re-queued tasks
// (retries, lost attempts) wait in a FIFO that is served first, so they finish the job
// instead of trailing behind it.

/** Per-task states, kept in one Uint8Array per job. */
export const TASK_FRESH = 0
export const TASK_QUEUED = 1
export const TASK_RUNNING = 2
export const TASK_DONE = 3

export class TaskQueue {
  private readonly state: Uint8Array
  private cursor = 0
  private freshLeft: number
  private retry: number[] = []
  private retryHead = 0

  /** `state` is shared with the job; `freshCount` = tasks in it that are TASK_FRESH. */
  constructor (state: Uint8Array, freshCount: number) {
    this.state = state
    this.freshLeft = freshCount
  }

  get size (): number {
    return this.freshLeft + this.retry.length - this.retryHead
  }

  /** Puts a task back, ahead of every fresh task. The caller guarantees it is not queued yet. */
  pushRetry (taskIndex: number): void {
    this.state[taskIndex] = TASK_QUEUED
    this.retry.push(taskIndex)
  }

  /** The next task index, or -1 when empty. */
  peek (): number {
    while (this.retryHead < this.retry.length) {
      const i = this.retry[this.retryHead] as number
      if (this.state[i] === TASK_QUEUED) return i
      this.retryHead++ // defensive: an entry whose task moved on is skipped
    }
    if (this.freshLeft === 0) return -1
    // Restored (done) tasks are skipped once; the cursor never moves back.
    while (this.cursor < this.state.length && this.state[this.cursor] !== TASK_FRESH) this.cursor++
    return this.cursor < this.state.length ? this.cursor : -1
  }

  /** Removes and returns the next task index (-1 when empty); the caller marks it running. */
  take (): number {
    const i = this.peek()
    if (i < 0) return i
    if (this.retryHead < this.retry.length && this.retry[this.retryHead] === i) {
      this.retryHead++
      if (this.retryHead > 1024 && this.retryHead * 2 > this.retry.length) {
        this.retry = this.retry.slice(this.retryHead)
        this.retryHead = 0
      }
    } else {
      this.cursor++
      this.freshLeft--
    }
    return i
  }
}
