// Messages between the daemon (ExecutorPool) and an executor child (executor-child.ts).
// Both directions are batched: one IPC message carries many tasks or many results, so tens of
// thousands of tiny tasks per second do not pay one IPC round trip each.
// The channel uses Node's 'json' serialisation: measured with 2 slots and empty map tasks it moved
// about twice as many tasks per second as 'advanced' (V8) serialisation. Results travel as JSON
// text, which the child produces anyway when it checks that a result is JSON-serialisable, and a
// map's text goes on to the coordinator unparsed (src/jobs/raw-json.ts). A binary argument
// travels as base64; stored input and a reduce's results go as a file in the workspace (ArgFile).

import type { CapturedLogs } from './log-capture.js'

// Type-only (erased): the child, which imports this file, may load nothing outside its own dir.
import type { FailureKind } from '../../jobs/failure-kinds.js'

export type TaskOp = 'map' | 'reduce' | 'split'

/**
 * A task's input as a file in its workspace, which the child reads: a split of stored input, as
 * text or bytes; or a reduce's results ('results': their JSON texts, each parsed on its own, see
 * encodeResultsFile).
 */
export interface ArgFile { path: string; encoding: 'utf8' | 'bytes' | 'results' }

/** A group's task: [taskIndex, chunk], or [taskIndex, null, its input file]. */
export type GroupEntry = [number, unknown] | [number, unknown, ArgFile]

/** One task, as the pool hands it over and the child runs it. */
export interface WireTask {
  id: string
  op: TaskOp
  modulePath: string
  codeHash: string
  /** Absent when `argBase64` carries a Buffer instead. */
  arg?: unknown
  argBase64?: string
  /** The input is this file (then `arg` is absent). */
  argFile?: ArgFile
  ctx: Record<string, unknown>
  /**
   * A map task's group (SchedulerConfig.localGroupMax): more of its job's tasks, [taskIndex, arg],
   * run after this one in the same call, each with its own ctx.taskIndex. The result is then the
   * JSON array of every task's result, this one's first; one task failing fails them all.
   */
  group?: GroupEntry[]
  /**
   * The group's results are folded by the module's combine(results, ctx) into one (Hadoop's
   * combiner): the result is then that one value, marked `combined`.
   */
  combine?: true
}

/**
 * A task as it travels in a 'run' message: a task of the same job as the one before it in the
 * message (same op, module and context but for `taskIndex`) leaves those out. Sent whole, the
 * module path, code hash, scratch dir, job and peer ids came to ~400 bytes of JSON per task
 * that the daemon wrote and the child parsed, ten times the task itself for tiny tasks.
 */
export type PackedTask = WireTask | ShortTask
type ShortTask = { id: string; arg?: unknown; argBase64?: string; argFile?: ArgFile; taskIndex?: number; group?: GroupEntry[] }

/** `tasks` for one 'run' message: each task that repeats the previous one's job is cut down. */
export function packTasks (tasks: WireTask[]): PackedTask[] {
  const out: PackedTask[] = []
  let prev: WireTask | undefined
  for (const task of tasks) {
    if (prev === undefined || !sameJob(task, prev)) out.push(task)
    else {
      const packed: ShortTask = { id: task.id }
      if (task.argBase64 !== undefined) packed.argBase64 = task.argBase64
      else if (task.argFile !== undefined) packed.argFile = task.argFile
      else packed.arg = task.arg
      if ('taskIndex' in task.ctx) packed.taskIndex = task.ctx.taskIndex as number
      if (task.group !== undefined) packed.group = task.group
      out.push(packed)
    }
    prev = task
  }
  return out
}

/** The tasks `packTasks` cut down, whole again (each its own ctx object: task code may change it). */
export function unpackTasks (packed: PackedTask[]): WireTask[] {
  const out: WireTask[] = []
  let prev: WireTask | undefined
  for (const p of packed) {
    let task: WireTask
    if ('op' in p) task = p
    else {
      if (prev === undefined) throw new Error(`task ${p.id} refers to a task before it, and is first`)
      task = { id: p.id, op: prev.op, modulePath: prev.modulePath, codeHash: prev.codeHash, ...(prev.combine !== undefined ? { combine: prev.combine } : {}), ctx: p.taskIndex !== undefined ? { ...prev.ctx, taskIndex: p.taskIndex } : { ...prev.ctx } }
      if (p.argBase64 !== undefined) task.argBase64 = p.argBase64
      else if (p.argFile !== undefined) task.argFile = p.argFile
      else task.arg = p.arg
      if (p.group !== undefined) task.group = p.group
    }
    out.push(task)
    prev = task
  }
  return out
}

/** Same op, module and context, but for the task's index. */
function sameJob (a: WireTask, b: WireTask): boolean {
  if (a.op !== b.op || a.modulePath !== b.modulePath || a.codeHash !== b.codeHash || a.combine !== b.combine) return false
  if (a.ctx === b.ctx) return true
  let keys = 0
  for (const key in a.ctx) {
    keys++
    if (key !== 'taskIndex' && a.ctx[key] !== b.ctx[key]) return false
    if (!(key in b.ctx)) return false
  }
  for (const _ in b.ctx) keys--
  return keys === 0
}

/** Failure kinds the child itself can observe (the others are seen by the parent). */
export type ChildFailureKind = Extract<FailureKind, 'threw' | 'not-serialisable' | 'bad-module' | 'denied' | 'too-large' | 'oom' | 'bad-input'>

export type WireResult =
  /** `group`: the JSON of a group's other tasks' results, in the group's order (`json` is the first task's). */
  | { id: string; ok: true; json: string; durationMs: number; combined?: true; group?: string[] }
  | { id: string; ok: false; kind: ChildFailureKind; error: string; stack?: string; durationMs: number }

/**
 * A result as it travels: a success as `[id, json, durationMs]`, the duration to the microsecond
 * (an object with its field names, and 17 digits of duration, was most of a tiny task's result);
 * after them a 1 when the result is a group's combine(), or the group's other results' JSON.
 */
export type PackedResult = [string, string, number] | [string, string, number, 1 | string[]] | Extract<WireResult, { ok: false }>

export function packResult (r: WireResult): PackedResult {
  if (!r.ok) return r
  const ms = Math.round(r.durationMs * 1000) / 1000
  return r.combined === true ? [r.id, r.json, ms, 1] : r.group !== undefined ? [r.id, r.json, ms, r.group] : [r.id, r.json, ms]
}

export function unpackResult (p: PackedResult): WireResult {
  if (!Array.isArray(p)) return p
  const [id, json, durationMs, more] = p
  if (more === 1) return { id, ok: true, json, durationMs, combined: true }
  return more !== undefined ? { id, ok: true, json, durationMs, group: more } : { id, ok: true, json, durationMs }
}

/**
 * A reduce's input as its executor reads it (ArgFile 'results'): the count (u32 BE), each
 * result's length in bytes (u32 BE), then the results' JSON texts. Each is parsed on its own, so
 * a text that is not JSON fails the reduce naming it, and cannot change what the others are.
 */
export function encodeResultsFile (texts: readonly string[]): Buffer {
  const lengths = texts.map(t => Buffer.byteLength(t))
  const out = Buffer.allocUnsafe(4 + 4 * texts.length + lengths.reduce((a, b) => a + b, 0))
  out.writeUInt32BE(texts.length, 0)
  let at = 4
  for (const n of lengths) { out.writeUInt32BE(n, at); at += 4 }
  for (const t of texts) at += out.write(t, at, 'utf8')
  return out
}

/** The results of a file encodeResultsFile wrote, parsed; throws naming the first bad one. */
export function decodeResultsFile (bytes: Buffer): unknown[] {
  const fail = (why: string): never => { throw new Error(`the reduce's input file is malformed: ${why}`) }
  if (bytes.length < 4) fail('shorter than its count')
  const n = bytes.readUInt32BE(0)
  if (4 + 4 * n > bytes.length) fail(`too short for ${n} results`)
  const out: unknown[] = new Array(n)
  let at = 4 + 4 * n
  for (let i = 0; i < n; i++) {
    const length = bytes.readUInt32BE(4 + 4 * i)
    if (at + length > bytes.length) fail(`cut short in result ${i}`)
    const text = bytes.toString('utf8', at, at + length)
    try {
      out[i] = JSON.parse(text)
    } catch (err) {
      throw new Error(`result ${i} of the reduce's input is not JSON (${(err as Error).message}): a worker sent it so`)
    }
    at += length
  }
  if (at !== bytes.length) fail(`${bytes.length - at} bytes after the last result`)
  return out
}

export type ParentMessage = { t: 'run'; tasks: PackedTask[] }
/** 'ready' is sent once at start-up, so start-up time is not counted against the first task's timeout. */
/** `logs`: the output of those of the results' tasks that wrote any, by task id (src/jobs/log-capture.ts). */
export type ChildMessage = { t: 'ready' } | { t: 'done'; results: PackedResult[]; logs?: Array<[string, CapturedLogs]> }

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
