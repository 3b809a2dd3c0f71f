// The errors Meshwork throws on purpose. Each condition has its own class; every class carries a
// stable `code` (scripts and tests match on it, not on the message) and its own name as `name`
// (a stack trace or a log line says which condition it was).

export abstract class MeshworkError extends Error {
  abstract readonly code: string

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}
