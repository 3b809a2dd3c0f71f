// What a task writes to stdout and stderr (console.log … console.error go there), captured in the
// executor child per task and bounded: task code is hostile and may write gigabytes. Pure (no
// imports): the child loads it before any task code, and unit tests drive it with their own clock.
//
// Lines past a task's bounds are counted, not kept: `dropped` says how many lines and characters
// were lost, and the coordinator shows that as a marker line (src/jobs/task-logs.ts).

/** Most lines kept per task. */
export const TASK_LOG_LINES_MAX = 500
/** Most characters kept per task (each line counts its length plus one). */
export const TASK_LOG_CHARS_MAX = 64 * 1024
/** A longer line is cut to this many characters (and an ellipsis). */
export const LOG_LINE_CHARS_MAX = 4096

/** 1: stdout, 2: stderr (their file descriptors). */
export type LogStream = 1 | 2
/** One line: the task index it was written under (0 for split and reduce), the stream, when (wall ms), the text. */
export type CapturedLine = [task: number, stream: LogStream, atMs: number, text: string]
/** A task's output: its kept lines, and what was dropped past its bounds (absent when nothing was). */
export interface CapturedLogs { lines: CapturedLine[], dropped?: [lines: number, chars: number] }

export interface LogLimits { linesMax: number, charsMax: number, lineCharsMax: number }
export const DEFAULT_LOG_LIMITS: LogLimits = { linesMax: TASK_LOG_LINES_MAX, charsMax: TASK_LOG_CHARS_MAX, lineCharsMax: LOG_LINE_CHARS_MAX }

export class LogCapture {
  private lines: CapturedLine[] = []
  private chars = 0
  private droppedLines = 0
  private droppedChars = 0
  /** A line not yet ended by '\n', per stream (index 1 and 2). */
  private readonly partial: [string, string, string] = ['', '', '']
  /** A dropped line not yet ended, per stream: counted once it ends. */
  private readonly unfinished: [boolean, boolean, boolean] = [false, false, false]
  private task = 0
  private active = false

  constructor (private readonly limits: LogLimits = DEFAULT_LOG_LIMITS) {}

  get capturing (): boolean { return this.active }

  /** A task starts: what it writes from now on is its own. */
  begin (task: number): void {
    this.lines = []
    this.chars = 0
    this.droppedLines = 0
    this.droppedChars = 0
    this.partial[1] = ''
    this.partial[2] = ''
    this.unfinished[1] = false
    this.unfinished[2] = false
    this.task = task
    this.active = true
  }

  /** The next task of a group runs: unfinished lines are the previous task's. */
  setTask (task: number, atMs: number): void {
    this.endPartials(atMs)
    this.task = task
  }

  write (stream: LogStream, text: string, atMs: number): void {
    if (!this.active || text.length === 0) return
    if (this.full()) return this.countDropped(stream, text)
    let from = 0
    for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
      const line = this.partial[stream] + text.slice(from, nl)
      this.partial[stream] = ''
      this.emit(stream, line, atMs)
      from = nl + 1
      if (this.full()) return this.countDropped(stream, text.slice(from))
    }
    if (from < text.length) {
      const rest = this.partial[stream] + text.slice(from)
      // An endless line is not kept whole in memory: it is broken (and cut) here.
      if (rest.length > this.limits.lineCharsMax) {
        this.partial[stream] = ''
        this.emit(stream, rest, atMs)
      } else {
        this.partial[stream] = rest
      }
    }
  }

  /** The task ended: its lines (undefined when it wrote nothing). */
  end (atMs: number): CapturedLogs | undefined {
    if (!this.active) return undefined
    this.endPartials(atMs)
    this.active = false
    const lines = this.lines
    this.lines = []
    if (lines.length === 0 && this.droppedLines === 0 && this.droppedChars === 0) return undefined
    return this.droppedLines > 0 || this.droppedChars > 0 ? { lines, dropped: [this.droppedLines, this.droppedChars] } : { lines }
  }

  private endPartials (atMs: number): void {
    for (const stream of [1, 2] as const) {
      if (this.unfinished[stream]) {
        this.unfinished[stream] = false
        this.droppedLines++
      }
      const rest = this.partial[stream]
      if (rest === '') continue
      this.partial[stream] = ''
      this.emit(stream, rest, atMs)
    }
  }

  private full (): boolean {
    return this.lines.length >= this.limits.linesMax || this.chars >= this.limits.charsMax
  }

  private emit (stream: LogStream, raw: string, atMs: number): void {
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (text.length > this.limits.lineCharsMax) {
      this.droppedChars += text.length - this.limits.lineCharsMax
      text = `${text.slice(0, this.limits.lineCharsMax)}…`
    }
    if (this.full() || this.chars + text.length + 1 > this.limits.charsMax) {
      this.droppedLines++
      this.droppedChars += text.length + 1
      return
    }
    this.lines.push([this.task, stream, atMs, text])
    this.chars += text.length + 1
  }

  /** Past the bounds: only counted (the text may be huge: no copies, no splitting). */
  private countDropped (stream: LogStream, text: string): void {
    if (text.length === 0) return
    // A partial line held from before the bounds were reached is lost with what follows.
    const held = this.partial[stream]
    this.partial[stream] = ''
    let lines = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) lines++
    this.droppedLines += lines
    this.droppedChars += held.length + text.length
    // An unfinished dropped line counts once, when the task ends or the line does.
    if (!text.endsWith('\n')) this.unfinished[stream] = true
    else if (lines > 0) this.unfinished[stream] = false
    if (held !== '' && lines === 0) this.unfinished[stream] = true
  }
}
