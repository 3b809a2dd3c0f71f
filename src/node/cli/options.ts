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

export function defaultSlots (): number { return Math.max(1, cpus().length) }

/** `--name`: the state vector's name rule, with the flag in the error. */
export function parseNodeName (value: string): string {
  if (!NodeNameSchema.safeParse(value).success) throw new UsageError(`--name must be 1 to ${NODE_NAME_MAX} letters, digits, . _ - (starting with a letter or digit), got "${value}"`)
  return value
}
