import { MeshworkError } from '../util/errors.js'

// A task's result as the JSON text its executor wrote. Nodes pass results on without parsing
// them — worker, coordinator, backups — and only the reduce's executor parses each, once: a word
// count's map result is hundreds of KB of JSON, and each parse and stringify of it on the way
// was most of a data-heavy job's time on the mesh. On the wire a RawJson is an attachment of a
// binary frame (wire.ts), so its text is not escaped inside another JSON text either.

export class RawJsonError extends MeshworkError {
  readonly code = 'raw-json-invalid'
}

export class RawJson {
  constructor (readonly text: string) {}

  /** Only where a result is stringified with its message after all (a fallback: it parses). */
  toJSON (): unknown {
    try {
      return JSON.parse(this.text)
    } catch (err) {
      throw new RawJsonError(`a task result is not JSON: ${(err as Error).message}`)
    }
  }
}

/** A result's JSON text: a RawJson's own, any other value stringified (undefined as null). */
export function jsonText (value: unknown): string {
  return value instanceof RawJson ? value.text : (JSON.stringify(value) ?? 'null')
}
