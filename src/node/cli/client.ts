import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { API_TOKEN_ENV, ApiTokenError, readApiToken } from '../../security/api-token.js'
import { defaultDataDir, readApiRecord } from '../host/data-dir.js'
import { terminalSafe } from './terminal-text.js'
import { MeshworkError } from '../../util/errors.js'
import { EXIT } from './exit-codes.js'
import { UsageError } from './options.js'

// How CLI commands reach a node: --api URL, else the record a running node left in its data dir.

/** No node to talk to: none recorded, none answering, or the API token missing or wrong. */
export class ClientError extends MeshworkError {
  readonly code = 'client'
  readonly exitCode: number = EXIT.noNode
}

/** What was asked for does not exist on the node (an unknown job, a result no longer held). */
export class NotFoundError extends MeshworkError {
  readonly code = 'not-found'
  readonly exitCode: number = EXIT.notFound
}

/** The node refused the request, or cannot do it now (not allowed, a limit, a finished job). */
export class RefusedError extends MeshworkError {
  readonly code = 'refused'
  readonly exitCode: number = EXIT.refused
}

/**
 * The error for a node's answer that is not a success, in the user's terms (no method, path or
 * HTTP status): `what` says what was asked ("no job J on this node"), `message` is the node's own
 * reason (escaped for the terminal).
 */
export function answerError (status: number, path: string, message: string, baseUrl: string): MeshworkError {
  const job = /^\/jobs\/([^/?]+)/.exec(path)
  const jobId = job?.[1] !== undefined ? terminalSafe(safeDecode(job[1])) : undefined
  if (status === 401) return new ClientError(`the node at ${baseUrl} needs its API token. Run on the node's machine with --data-dir DIR (the token is DIR/api.token), or set $${API_TOKEN_ENV}.`)
  if (status === 404 && jobId !== undefined && /^unknown job/.test(message)) {
    return new NotFoundError(`no job ${jobId} on this node${/no live node/.test(message) ? ', nor on any live node it asked (finished jobs are kept for --result-retention, and in `meshwork jobs --all`)' : ''}`)
  }
  if (status === 404 && /^No route /.test(message)) return new NotFoundError(`the node at ${baseUrl} has no ${terminalSafe(path.split('?')[0] ?? path)} (is it an older meshwork?)`)
  if (status === 404) return new NotFoundError(message)
  if (status === 410) return new NotFoundError(message)
  const finished = /^job \S+ already (\w+)$/.exec(message)
  if (status === 409 && jobId !== undefined && finished !== null && path.endsWith('/cancel')) return new RefusedError(`job ${jobId} is already ${finished[1] as string}: nothing to cancel`)
  if (status === 400 || status === 413) return new UsageError(message)
  if (status >= 500 && status !== 503 && status !== 507) return new RefusedError(`the node at ${baseUrl} failed: ${message}`)
  return new RefusedError(message)
}

function safeDecode (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

export interface ClientOptions { api?: string, dataDir?: string, token?: string }

/**
 * The control API token: given, else $MESHWORK_TOKEN, else the one the node keeps in its data dir
 * (--data-dir, or the default one when no --api is given or its node is the one at --api).
 */
export function resolveApiToken (opts: ClientOptions, url: string): string | undefined {
  if (opts.token !== undefined) return opts.token
  const fromEnv = process.env[API_TOKEN_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const dir = opts.dataDir ?? defaultDataDir()
  if (opts.api !== undefined && opts.dataDir === undefined && readApiRecord(dir)?.url !== url) return undefined
  try { return readApiToken(dir) } catch (err) { throw new ClientError((err as ApiTokenError).message) }
}

export function resolveApiUrl (opts: ClientOptions): string {
  if (opts.api !== undefined) return opts.api.replace(/\/+$/, '')
  const dir = opts.dataDir ?? defaultDataDir()
  const record = readApiRecord(dir)
  if (record === undefined) {
    throw new ClientError(`No running node found in ${dir}. Start one with \`meshwork start --data-dir ${dir}\`, or pass --api http://127.0.0.1:PORT.`)
  }
  return record.url
}

export class MeshClient {
  constructor (readonly baseUrl: string, readonly token: string | undefined = process.env[API_TOKEN_ENV]) {}

  static fromOptions (opts: ClientOptions): MeshClient {
    const url = resolveApiUrl(opts)
    return new MeshClient(url, resolveApiToken(opts, url))
  }

  async get<T> (path: string): Promise<T> { return await this.request<T>('GET', path) }
  async post<T> (path: string, body: unknown): Promise<T> { return await this.request<T>('POST', path, body) }

  /**
   * Streams a file (or bytes) to the node's PUT /blobs: its content id and size. Node's http
   * client rather than fetch: it pipes a file with backpressure and no copy into web streams.
   */
  async upload (source: { file: string } | { bytes: Uint8Array }): Promise<{ blob: string, size: number }> {
    const size = 'file' in source ? (await stat(source.file)).size : source.bytes.length
    const url = new URL('/blobs', this.baseUrl + '/')
    const text = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = httpRequest(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': size, ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}) },
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('error', err => reject(new ClientError(`Cannot upload to the node at ${this.baseUrl} (${err.message}). Is \`meshwork start\` running?`)))
      if ('file' in source) pipeline(createReadStream(source.file), req).catch(reject)
      else req.end(source.bytes)
    })
    let value: unknown
    try { value = JSON.parse(text.body) } catch { value = text.body }
    if (text.status !== 200) {
      const message = typeof value === 'object' && value !== null && 'error' in value ? String((value as { error: unknown }).error) : text.body
      const err = answerError(text.status, '/blobs', terminalSafe(message, { keepNewlines: true }), this.baseUrl)
      throw Object.assign(err, { message: `cannot upload ${terminalSafe('file' in source ? source.file : 'the input')}: ${err.message}` })
    }
    return value as { blob: string, size: number }
  }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    // The node takes a POST or DELETE only as JSON with the token in the Authorization header
    // (what a web page cannot send across sites): say so even when there is no body.
    const writes = method !== 'GET' && method !== 'HEAD'
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          ...(writes ? { 'content-type': 'application/json' } : {}),
          ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new ClientError(`Cannot reach the node at ${this.baseUrl} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}). Is \`meshwork start\` running?`)
    }
    const text = await res.text()
    let value: unknown
    try { value = text === '' ? undefined : JSON.parse(text) } catch { value = text }
    if (!res.ok) {
      // The node's error may quote what was sent (a job id, a module name): escaped for the terminal.
      const message = terminalSafe(typeof value === 'object' && value !== null && 'error' in value ? String((value as { error: unknown }).error) : text, { keepNewlines: true })
      throw answerError(res.status, path, message, this.baseUrl)
    }
    return value as T
  }
}
