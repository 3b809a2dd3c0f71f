import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { homedir, hostname } from 'node:os'
import { join, resolve } from 'node:path'

// The data dir holds this node's identity, its control-API record, caches and scratch space.

export function defaultDataDir (): string {
  return resolve(process.env.MESHWORK_DATA_DIR ?? join(homedir(), '.meshwork'))
}

/**
 * The default node name: this machine's hostname, made to fit the state vector's name rule
 * (letters, digits, . _ -; at most 64), or undefined when nothing of it is left.
 */
export function defaultNodeName (host: string = hostname()): string | undefined {
  const name = host.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64)
  return name === '' ? undefined : name
}

export function ensureDataDir (dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

export interface ApiRecord { url: string, pid: number, peerId: string }

const API_RECORD = 'api.json'

/** Written by a running node so local CLI commands find its control API. */
export function writeApiRecord (dir: string, record: ApiRecord): void {
  const tmp = join(dir, `${API_RECORD}.${process.pid}.tmp`)
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 })
  renameSync(tmp, join(dir, API_RECORD))
}

export function readApiRecord (dir: string): ApiRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, API_RECORD), 'utf8')) as Partial<ApiRecord>
    if (typeof parsed.url !== 'string' || typeof parsed.pid !== 'number' || typeof parsed.peerId !== 'string') return undefined
    return { url: parsed.url, pid: parsed.pid, peerId: parsed.peerId }
  } catch {
    return undefined
  }
}

export function removeApiRecord (dir: string): void {
  rmSync(join(dir, API_RECORD), { force: true })
}
