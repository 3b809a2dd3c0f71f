import { defaultDataDir, readApiRecord } from './data-dir.js'

// How CLI commands reach a node: --api URL, else the record a running node left in its data dir.

export class ClientError extends Error {}

export interface ClientOptions { api?: string, dataDir?: string }

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
  constructor (readonly baseUrl: string) {}

  static fromOptions (opts: ClientOptions): MeshClient { return new MeshClient(resolveApiUrl(opts)) }

  async get<T> (path: string): Promise<T> { return await this.request<T>('GET', path) }
  async post<T> (path: string, body: unknown): Promise<T> { return await this.request<T>('POST', path, body) }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new ClientError(`Cannot reach the node at ${this.baseUrl} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}). Is \`meshwork start\` running?`)
    }
    const text = await res.text()
    let value: unknown
    try { value = text === '' ? undefined : JSON.parse(text) } catch { value = text }
    if (!res.ok) {
      const message = typeof value === 'object' && value !== null && 'error' in value ? String((value as { error: unknown }).error) : text
      throw new ClientError(`${method} ${path} failed (${res.status}): ${message}`)
    }
    return value as T
  }
}
