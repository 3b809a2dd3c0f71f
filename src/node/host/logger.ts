import { pino, type Logger } from 'pino'

export type { Logger }

/** Structured logs (JSON lines) on stderr; stdout stays free for human and --json output. */
export function createLogger (level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination(2))
}
