import { cpus } from 'node:os'
import { MeshworkError } from '../../util/errors.js'
import { EXIT } from './exit-codes.js'
import { NODE_NAME_MAX, NodeNameSchema } from '../../gossip/state-vector.js'

// Parsing of CLI values that commander leaves as strings; each error names the flag.

export class UsageError extends MeshworkError {
  readonly code = 'usage'
  readonly exitCode: number = EXIT.usage
}

export function parseIntOption (flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`)
    }
    return n
  }
}

export function parseLabel (value: string, previous: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z0-9_.-]{1,64})=(.{0,256})$/.exec(value)
  if (m === null) throw new UsageError(`--label must look like KEY=VALUE (key: letters, digits, _ . -), got "${value}"`)
  return { ...previous, [m[1] as string]: m[2] as string }
}

export function parseList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

export function defaultSlots (): number { return Math.max(1, cpus().length) }

/** "25" or "25%" → 0.25; errors name the flag. */
export function parsePercentOption (flag: string, min = 0, max = 100) {
  return (value: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value)
    const n = m === null ? NaN : Number(m[1])
    if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be a percentage from ${min} to ${max}, got "${value}"`)
    return n / 100
  }
}

/** `--name`: the state vector's name rule, with the flag in the error. */
export function parseNodeName (value: string): string {
  if (!NodeNameSchema.safeParse(value).success) throw new UsageError(`--name must be 1 to ${NODE_NAME_MAX} letters, digits, . _ - (starting with a letter or digit), got "${value}"`)
  return value
}
