import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MeshworkError } from '../util/errors.js'

// The control API's bearer token. A node keeps it in its data dir (mode 0600) so the local
// CLI, run by the same user, can read it; nobody else on the machine can. Every client sends
// `Authorization: Bearer <token>`, the dashboard too (it keeps the token in sessionStorage). No
// cookie and no `?token=`: a browser attaches cookies to requests other pages make, and query
// strings end up in history and logs.

export const API_TOKEN_FILE = 'api.token'
export const API_TOKEN_ENV = 'MESHWORK_TOKEN'
const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/

export class ApiTokenError extends MeshworkError { readonly code = 'api-token' }

/** The token in the data dir, or a new one written there (mode 0600). */
export function loadOrCreateApiToken (dataDir: string): string {
  const existing = readApiToken(dataDir)
  if (existing !== undefined) return existing
  const token = randomBytes(32).toString('hex')
  writeFileSync(join(dataDir, API_TOKEN_FILE), token + '\n', { mode: 0o600 })
  return token
}

/** The token a node keeps in `dataDir`, if any. Throws when the file is there but unusable. */
export function readApiToken (dataDir: string): string | undefined {
  const path = join(dataDir, API_TOKEN_FILE)
  let text: string
  try {
    const mode = statSync(path).mode
    text = readFileSync(path, 'utf8').trim()
    if ((mode & 0o077) !== 0) throw new ApiTokenError(`${path} is readable by other users: run \`chmod 600 ${path}\``)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (err instanceof ApiTokenError) throw err
    throw new ApiTokenError(`cannot read the API token ${path}: ${(err as Error).message}`)
  }
  if (!TOKEN_RE.test(text)) throw new ApiTokenError(`${path} does not hold an API token (16–256 letters, digits, _ or -)`)
  return text
}

/** Constant-time comparison of a presented token with the node's. */
export function tokenMatches (presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false
  const a = Buffer.from(presented)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The token a request presents: the `Authorization: Bearer …` header, nothing else (an old
 * `meshwork_token` cookie or a `?token=` no longer counts).
 */
export function presentedToken (headers: { authorization?: string }): string | undefined {
  return bearerToken(headers.authorization)
}

/** The token in an `Authorization: Bearer …` header. */
export function bearerToken (header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return m?.[1]
}
