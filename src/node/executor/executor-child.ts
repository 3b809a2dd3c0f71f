// Executor child: the process that runs untrusted task code apart from the daemon.
// It loads job modules by file path (cached by code hash), runs one task at a time in arrival
// order, and returns results in batches (one IPC message per event-loop turn).
// Anything fatal (process.exit, heap OOM, a hang) kills only this process; the pool sees it.
import childProcess from 'node:child_process'
import { readFileSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { basename } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import type { ArgFile, ChildFailureKind, ChildMessage, GroupEntry, PackedResult, ParentMessage, WireResult, WireTask } from './executor-protocol.js'
import { decodeResultsFile, RESULT_BYTES_MAX_ENV, sizeLimitFlag, SPLIT_BYTES_MAX_ENV, packResult, toResultJson, unpackTasks } from './executor-protocol.js'
import { describeDenial, TOOLS_ENV } from './sandbox.js'
import { LogCapture, type CapturedLogs, type LogStream } from './log-capture.js'

/**
 * Results are held for one IPC message per turn, but never while the next task runs once the
 * oldest held one was started this long ago: a long task's result is sent before the next starts.
 */
const FLUSH_AFTER_MS = 5

type Fn = (arg: unknown, ctx: unknown) => unknown
type Failed = Extract<WireResult, { ok: false }>
interface LoadedModule { holder: Record<string, unknown>; named: Record<string, unknown>; kind: unknown }

guardChildProcesses()
exitWithTheChannel()
/** The streams' own writes, taken before task code loads: the child's messages go there, a task's output to `capture`. */
const realStderrWrite = process.stderr.write.bind(process.stderr)
const capture = new LogCapture()
captureOutput()
const resultBytesMax = Number(process.env[RESULT_BYTES_MAX_ENV] ?? Infinity)
const splitBytesMax = Number(process.env[SPLIT_BYTES_MAX_ENV] ?? resultBytesMax)

const loaded = new Map<string, LoadedModule>()
const queue: WireTask[] = []
let draining = false
let outbox: PackedResult[] = []
/** The output of tasks in `outbox`, by task id (only those that wrote any). */
let outboxLogs: Array<[string, CapturedLogs]> = []
let outboxSinceMs = 0
let flushScheduled = false
/** Set while an async task is pending, so an uncaught error from its callbacks fails that task. */
let current: { fail: (err: unknown) => void } | null = null

process.on('message', (msg: ParentMessage) => {
  if (msg?.t !== 'run') return
  for (const task of unpackTasks(msg.tasks)) queue.push(task)
  if (!draining) void drain()
})
process.on('uncaughtException', onStrayError)
process.on('unhandledRejection', onStrayError)
process.send?.({ t: 'ready' } satisfies ChildMessage)

function onStrayError (err: unknown): void {
  if (!process.connected) return exitNow()
  if (current !== null) current.fail(err)
  else writeStderr(`executor: uncaught error outside a task: ${describe(err)}\n`)
}

const reallyExit = ((process as unknown as { reallyExit: (code: number) => never }).reallyExit).bind(process)
/** Task code may replace process.exit: the binding it calls is taken before any task code loads. */
function exitNow (): never { return reallyExit(0) }

function writeStderr (text: string): void {
  try { realStderrWrite(text) } catch { exitNow() }
}

/**
 * console.log … console.error write to process.stdout and process.stderr: while a task runs, what
 * is written there is its output, kept (bounded) in `capture` and sent with its result. Task code
 * may put the writes back or replace console: its output then goes where the child's stdout
 * (ignored) and stderr (the daemon's tail of it) go, as before. Writes outside a task pass through.
 */
function captureOutput (): void {
  // stderr still goes on to the daemon too: the tail it keeps names what a task printed before it
  // killed its executor (a task that dies sends no logs). stdout goes nowhere (spawned 'ignore').
  const hook = (stream: NodeJS.WriteStream, fd: LogStream, passOn: boolean): void => {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean
    stream.write = function (chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      if (!capture.capturing) return original(chunk, encoding, cb)
      try {
        capture.write(fd, typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8') : String(chunk), Date.now())
      } catch { /* output that cannot be read as text is not kept */ }
      if (passOn) return original(chunk, encoding, cb)
      const done = typeof encoding === 'function' ? encoding : cb
      if (typeof done === 'function') process.nextTick(done as () => void)
      return true
    } as typeof stream.write
  }
  hook(process.stdout, 1, false)
  hook(process.stderr, 2, true)
}

/**
 * The daemon is gone (or closed the channel): an orphan must not keep running tasks, nor spin on
 * writes to a closed stderr (EPIPE → error → a write about it → EPIPE …). Task code could remove
 * a 'disconnect' listener, so a timer checks the channel too.
 */
function exitWithTheChannel (): void {
  process.on('disconnect', exitNow)
  process.stderr.on('error', exitNow)
  process.stdout.on('error', exitNow)
  setInterval(() => { if (!process.connected) exitNow() }, 500).unref()
}

async function drain (): Promise<void> {
  draining = true
  try {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      if (outbox.length > 0 && performance.now() - outboxSinceMs > FLUSH_AFTER_MS) flush()
      const startedMs = performance.now()
      capture.begin(typeof task.ctx.taskIndex === 'number' ? task.ctx.taskIndex : 0)
      let result: WireResult
      try {
        result = await runTask(task)
      } finally {
        const logs = capture.end(Date.now())
        if (logs !== undefined) outboxLogs.push([task.id, logs])
      }
      push(result, startedMs)
    }
  } finally {
    draining = false
  }
  // Nothing left to run: waiting for the next turn would only add latency.
  flush()
}

async function runTask (task: WireTask): Promise<WireResult> {
  const startMs = performance.now()
  const fail = (kind: ChildFailureKind, err: unknown, stack?: string): Failed =>
    ({ id: task.id, ok: false, kind, error: describe(err), ...(stack !== undefined ? { stack } : {}), durationMs: performance.now() - startMs })

  let mod = loaded.get(task.codeHash)
  if (mod === undefined) {
    try {
      mod = await loadModule(task.modulePath)
    } catch (err) {
      const denial = describeDenial(err)
      if (denial !== undefined) return fail('denied', `job module ${task.modulePath} failed to load: ${denial}`)
      return fail('bad-module', `cannot import job module ${task.modulePath}: ${describe(err)}`)
    }
    loaded.set(task.codeHash, mod)
  }
  const fn = pickFunction(mod, task.op)
  if (fn === undefined) return fail('bad-module', `module has no ${task.op}() function`)

  const combine = task.combine === true && task.group !== undefined && task.op === 'map' ? pickFunction(mod, 'combine') : undefined
  if (task.combine === true && task.group !== undefined && combine === undefined) return fail('bad-module', 'module has no combine() function')
  const max = task.op === 'split' ? splitBytesMax : resultBytesMax
  /** One call of a function of the job's module: its value, or the failure as a WireResult. */
  const invoke = async (f: Fn, arg: unknown, ctx: unknown): Promise<{ value: unknown } | Failed> => {
    let value: unknown
    try {
      value = f.call(mod.holder, arg, ctx)
      if (isThenable(value)) value = await guard(value)
      if (task.op === 'split') value = await guard(collect(value))
    } catch (err) {
      const denial = describeDenial(err)
      if (denial !== undefined) return fail('denied', denial, err instanceof Error ? err.stack : undefined)
      // Under RLIMIT_AS a big allocation fails in the task instead of the kernel killing it.
      if (err instanceof RangeError && /allocation failed/i.test(err.message)) return fail('oom', `task ran out of memory: ${err.message} (the executor's memory limit, --memory-limit-mb)`, err.stack)
      return fail('threw', err, err instanceof Error ? err.stack : undefined)
    }
    return { value: task.op === 'map' && mod.kind === 'action' ? null : value }
  }
  /** A result as checked JSON, or the failure as a WireResult. */
  const encode = (value: unknown, what: string): { json: string } | Failed => {
    let json: string
    try {
      json = toResultJson(value)
    } catch (err) {
      return fail('not-serialisable', `${what} result is not JSON-serialisable: ${describe(err)}`)
    }
    if (json.length > max) return fail('too-large', `${what} result of ${json.length} bytes exceeds the node's limit of ${max} bytes (${sizeLimitFlag(task.op)})`)
    return { json }
  }
  const call = async (arg: unknown, ctx: Record<string, unknown>): Promise<{ json: string } | Failed> => {
    const r = await invoke(fn, arg, ctx)
    return 'value' in r ? encode(r.value, `${task.op}()`) : r
  }

  let firstArg: unknown
  try {
    firstArg = task.argFile !== undefined ? readArgFile(task.argFile) : task.argBase64 !== undefined ? Buffer.from(task.argBase64, 'base64') : task.arg
  } catch (err) {
    return fail('bad-input', err)
  }
  if (combine !== undefined && task.group !== undefined) return await runCombined(task, task.group, firstArg, fn, combine, invoke, encode, startMs)
  const first = await call(firstArg, task.ctx)
  if (task.group === undefined || task.op !== 'map') return 'json' in first ? { id: task.id, ok: true, json: first.json, durationMs: performance.now() - startMs } : first
  // A group: every task with its own ctx (task code may change it), results in one JSON array;
  // the first failure ends it, naming its task.
  if (!('json' in first)) return { ...first, error: `task ${String(task.ctx.taskIndex)}: ${first.error}` }
  const rest: string[] = []
  for (const [taskIndex, arg, file] of task.group) {
    let input: unknown
    try { input = file !== undefined ? readArgFile(file) : arg } catch (err) { return fail('bad-input', `task ${taskIndex}: ${describe(err)}`) }
    capture.setTask(taskIndex, Date.now())
    const r = await call(input, { ...task.ctx, taskIndex })
    if (!('json' in r)) return { ...r, error: `task ${taskIndex}: ${r.error}` }
    rest.push(r.json)
  }
  return { id: task.id, ok: true, json: first.json, group: rest, durationMs: performance.now() - startMs }
}

/**
 * A group of a job with a combine(): every task's map, then combine(results, ctx) over them, on
 * this node (Hadoop's combiner); the one result stands for the group. The first failure ends it,
 * naming its task or combine().
 */
async function runCombined (
  task: WireTask, group: GroupEntry[], firstArg: unknown, map: Fn, combine: Fn,
  invoke: (f: Fn, arg: unknown, ctx: unknown) => Promise<{ value: unknown } | Failed>,
  encode: (value: unknown, what: string) => { json: string } | Failed,
  startMs: number,
): Promise<WireResult> {
  const values: unknown[] = []
  const first = await invoke(map, firstArg, task.ctx)
  if (!('value' in first)) return { ...first, error: `task ${String(task.ctx.taskIndex)}: ${first.error}` }
  values.push(first.value)
  for (const [taskIndex, arg, file] of group) {
    let input: unknown
    try { input = file !== undefined ? readArgFile(file) : arg } catch (err) { return { id: task.id, ok: false, kind: 'bad-input', error: `task ${taskIndex}: ${describe(err)}`, durationMs: performance.now() - startMs } }
    capture.setTask(taskIndex, Date.now())
    const r = await invoke(map, input, { ...task.ctx, taskIndex })
    if (!('value' in r)) return { ...r, error: `task ${taskIndex}: ${r.error}` }
    values.push(r.value)
  }
  const taskIndexes = [task.ctx.taskIndex, ...group.map(([i]) => i)]
  // combine()'s own output is shown under the group's first task.
  if (typeof task.ctx.taskIndex === 'number') capture.setTask(task.ctx.taskIndex, Date.now())
  const combined = await invoke(combine, values, { ...task.ctx, taskIndexes })
  if (!('value' in combined)) return { ...combined, error: `combine() over tasks ${taskIndexes.join(', ')}: ${combined.error}` }
  const json = encode(combined.value, 'combine()')
  if (!('json' in json)) return json
  return { id: task.id, ok: true, json: json.json, durationMs: performance.now() - startMs, combined: true }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A split of stored input, as the worker wrote it for this task: text (checked UTF-8) or bytes. */
function readArgFile (file: ArgFile): string | Buffer | unknown[] {
  const bytes = readFileSync(file.path)
  if (file.encoding === 'bytes') return bytes
  if (file.encoding === 'results') return decodeResultsFile(bytes)
  try {
    return utf8.decode(bytes)
  } catch {
    throw new Error(`the task's input (${bytes.length} bytes) is not valid UTF-8 text; a module that reads bytes says records: { encoding: 'bytes' }`)
  }
}

/** Awaits user code, failing early if one of its callbacks throws outside the promise chain. */
async function guard<T> (p: PromiseLike<T> | T): Promise<T> {
  if (!isThenable(p)) return p
  return await new Promise<T>((resolve, reject) => {
    current = { fail: reject }
    p.then(resolve, reject)
  }).finally(() => { current = null })
}

async function loadModule (modulePath: string): Promise<LoadedModule> {
  const ns = await import(pathToFileURL(modulePath).href) as Record<string, unknown>
  const def = ns.default
  // Prefer the default export object; fall back to named exports (`export function map…`).
  const holder = (def !== null && typeof def === 'object') ? def as Record<string, unknown> : ns
  return { holder, named: ns, kind: holder.kind ?? ns.kind }
}

function pickFunction (mod: LoadedModule, op: string): Fn | undefined {
  const fn = mod.holder[op] ?? mod.named[op]
  return typeof fn === 'function' ? fn as Fn : undefined
}

/** split() may return an array, an iterable or an async iterable: collect it into an array. */
async function collect (value: unknown): Promise<unknown[]> {
  if (Array.isArray(value)) return value
  if (value !== null && typeof value === 'object') {
    if (Symbol.asyncIterator in value) {
      const out: unknown[] = []
      for await (const chunk of value as AsyncIterable<unknown>) out.push(chunk)
      return out
    }
    if (Symbol.iterator in value) return Array.from(value as Iterable<unknown>)
  }
  throw new TypeError(`split() must return an array, an iterable or an async iterable (got ${value === null ? 'null' : typeof value})`)
}

function push (result: WireResult, startedMs: number): void {
  // Dated from the task's start, so a result that took long to make is not held longer still.
  if (outbox.length === 0) outboxSinceMs = startedMs
  outbox.push(packResult(result))
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(() => { flushScheduled = false; flush() })
  }
}

function flush (): void {
  if (outbox.length === 0 || process.send === undefined || !process.connected) return
  const msg: ChildMessage = outboxLogs.length > 0 ? { t: 'done', results: outbox, logs: outboxLogs } : { t: 'done', results: outbox }
  outbox = []
  outboxLogs = []
  process.send(msg)
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
}

function describe (err: unknown): string {
  if (err instanceof Error) return err.message !== '' ? err.message : err.name
  if (typeof err === 'string') return err
  try { return JSON.stringify(err) ?? String(err) } catch { return String(err) }
}

/**
 * With the permission model, --allow-child-process lets a process start any program. When a job
 * declared its tools (and the node allowed them), only those may be started, by name, without a
 * shell: child_process is wrapped before any task code is imported, and process.binding (the way
 * around it) is closed by the permission model itself.
 */
function guardChildProcesses (): void {
  const raw = process.env[TOOLS_ENV]
  if (raw === undefined) return
  const tools = new Set(raw.split(',').filter(t => t !== ''))
  const cp = childProcess as unknown as Record<string, unknown>
  const deny = (what: string): never => {
    throw Object.assign(new Error(`Access to this API has been restricted: ${what}`), { code: 'ERR_ACCESS_DENIED', permission: 'ChildProcess', resource: what })
  }
  const checked = (name: string, shellAlways: boolean) => {
    const original = cp[name] as (...args: unknown[]) => unknown
    return function (this: unknown, file: unknown, ...rest: unknown[]): unknown {
      if (shellAlways) deny(`${name}() runs a shell; the job may start only ${[...tools].join(', ')}`)
      const options = rest.find(a => a !== null && typeof a === 'object' && !Array.isArray(a)) as { shell?: unknown } | undefined
      if (options?.shell !== undefined && options.shell !== false) deny('a shell; start tools directly')
      const command = typeof file === 'string' ? file : ''
      if (command.includes('/') || !tools.has(basename(command))) deny(`${command} (the job may start only ${[...tools].join(', ')}, by name)`)
      return original.call(this, file, ...rest)
    }
  }
  for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) cp[name] = checked(name, false)
  for (const name of ['exec', 'execSync', 'fork']) cp[name] = checked(name, true)
  syncBuiltinESMExports()
}
