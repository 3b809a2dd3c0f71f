// Every way a task attempt can fail, as one enum from the executor to the wire, the scheduler,
// the job record, the CLI and the simulator. The description is what a user is told.

export const FAILURE_KINDS = {
  // the task's own doing, seen in its executor
  'threw': 'the task\'s code threw',
  'not-serialisable': 'the task returned a value JSON cannot carry',
  'too-large': 'the task\'s result is over the node\'s --max-result-size',
  'bad-module': 'the job module has no such function, or does not load',
  'denied': 'the task tried what the sandbox does not allow',
  'bad-input': 'the task\'s input could not be read',
  'oom': 'the task ran out of memory (--memory-limit)',
  // seen by the executor pool
  'timeout': 'the task ran past --task-timeout',
  'cpu-limit': 'the task used more CPU time than --task-cpu-time',
  'exited': 'the task ended its executor process',
  'protocol': 'the executor sent a malformed message',
  'aborted': 'the attempt was stopped on request',
  // the task's stored input
  'input-gone': 'no node could serve the task\'s input',
  'input-corrupt': 'the task\'s input failed its hash on every holder',
  'input-denied': 'the shared input is outside the node\'s --shared-dir',
  // the worker's answer without running it
  'returned': 'handed back unrun: the node yields to its owner or drains',
  'stale-term': 'assigned by a coordinator that was taken over',
  'overloaded': 'the worker had too many tasks waiting',
  'bad-code': 'the job\'s code failed its hash on the worker',
  'internal': 'the worker failed to run it (a bug of Meshwork)',
  // the coordinator's
  'lost': 'its worker left or died, too often',
  'failed': 'a failure of no kind the coordinator knows',
} as const

export type FailureKind = keyof typeof FAILURE_KINDS
export const FAILURE_KIND_NAMES = Object.keys(FAILURE_KINDS) as [FailureKind, ...FailureKind[]]

export function isFailureKind (kind: unknown): kind is FailureKind {
  return typeof kind === 'string' && Object.hasOwn(FAILURE_KINDS, kind)
}

/** What a kind means, for people ("threw: the task's code threw"). */
export function describeFailureKind (kind: string): string {
  return isFailureKind(kind) ? FAILURE_KINDS[kind] : 'unknown'
}
