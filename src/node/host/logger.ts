import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'

export type { Logger }

/** 'pretty': one readable line per event (local times, colours); 'json': JSON lines for machines. */
export type LogFormat = 'json' | 'pretty'

/** JSON lines on a pipe or file, readable lines on a terminal. */
export function defaultLogFormat (): LogFormat {
  return process.stderr.isTTY === true ? 'pretty' : 'json'
}

/** Logs on stderr; stdout stays free for human and --json output. */
export function createLogger (level: string, bindings: Record<string, unknown> = {}, format: LogFormat = 'json'): Logger {
  const options = { level, base: { pid: process.pid, ...bindings } }
  if (format === 'pretty') {
    return pino(options, PinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  }
  return pino(options, pino.destination(2))
}
