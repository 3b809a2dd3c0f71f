// Messages between the daemon (ExecutorPool) and an executor child (executor-child.ts).
// Both directions are batched: one IPC message carries many tasks or many results, so tens of
// thousands of tiny tasks per second do not pay one IPC round trip each.
// The channel uses Node's 'json' serialisation: measured with 2 slots and empty map tasks it moved
// about twice as many tasks per second as 'advanced' (V8) serialisation. Results travel as JSON
// text, which the child produces anyway when it checks that a result is JSON-serialisable. A binary
// argument (split input read from `--input FILE`) travels as base64.

export type TaskOp = 'map' | 'reduce' | 'split'

/** One task as the child receives it. */
export interface WireTask {
  id: string
  op: TaskOp
  modulePath: string
  codeHash: string
  /** Absent when `argBase64` carries a Buffer instead. */
  arg?: unknown
  argBase64?: string
  ctx: Record<string, unknown>
}

/** Failure kinds the child itself can observe (the others are seen by the parent). */
export type ChildFailureKind = 'threw' | 'not-serialisable' | 'bad-module' | 'denied' | 'too-large'

export type WireResult =
  | { id: string; ok: true; json: string; durationMs: number }
  | { id: string; ok: false; kind: ChildFailureKind; error: string; stack?: string; durationMs: number }

export type ParentMessage = { t: 'run'; tasks: WireTask[] }
/** 'ready' is sent once at start-up, so start-up time is not counted against the first task's timeout. */
export type ChildMessage = { t: 'ready' } | { t: 'done'; results: WireResult[] }

/** Environment variable carrying the niceness the child applies to all of its threads. */
export const NICENESS_ENV = 'MESHWORK_EXECUTOR_NICENESS'
/** Environment variable carrying the largest result (JSON bytes) the child may return. */
export const RESULT_BYTES_MAX_ENV = 'MESHWORK_EXECUTOR_RESULT_BYTES_MAX'
/** Environment variable carrying the largest split() output (JSON bytes) the child may return. */
export const SPLIT_BYTES_MAX_ENV = 'MESHWORK_EXECUTOR_SPLIT_BYTES_MAX'

/** The node flag that bounds an op's output: split's chunks travel in messages, other results are results. */
export function sizeLimitFlag (op: TaskOp): string {
  return op === 'split' ? '--max-message-bytes' : '--max-result-bytes'
}

/**
 * Encodes a task result for the wire, refusing what JSON would silently drop or mangle
 * (functions, symbols, Maps, Sets) as well as what it cannot encode (BigInt, cycles).
 * `undefined` at the top level becomes null, as JSON has no undefined.
 */
export function toResultJson (value: unknown): string {
  const json = JSON.stringify(value, rejectNonJson)
  return json === undefined ? 'null' : json
}

function rejectNonJson (this: unknown, key: string, value: unknown): unknown {
  const where = key === '' ? 'the value itself' : `property ${JSON.stringify(key)}`
  switch (typeof value) {
    case 'function': throw new TypeError(`a function (${where})`)
    case 'symbol': throw new TypeError(`a symbol (${where})`)
    case 'bigint': throw new TypeError(`a BigInt (${where}); convert it to a string or number`)
  }
  if (value instanceof Map || value instanceof Set) {
    throw new TypeError(`a ${value instanceof Map ? 'Map' : 'Set'} (${where}); convert it to an object or array`)
  }
  return value
}
