// Content-addressed store of bundled job modules: <dir>/<sha256>.mjs. Code arrives from other
// peers, so the hash is verified before anything is written, and names are checked to be hashes.
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface CodeCacheOptions {
  /** Larger code is refused (default 16 MiB). */
  maxCodeBytes?: number
}

const HASH_RE = /^[0-9a-f]{64}$/

export class CodeCache {
  private readonly maxCodeBytes: number
  /** Hashes known to be on disk: `has` is asked once per task, and a stat per task shows in profiles. */
  private readonly present = new Set<string>()
  /** hash → its file: asked once per task too. */
  private readonly paths = new Map<string, string>()

  constructor (readonly dir: string, opts: CodeCacheOptions = {}) {
    this.maxCodeBytes = opts.maxCodeBytes ?? 16 * 1024 * 1024
  }

  has (hash: string): boolean {
    if (this.present.has(hash)) return true
    if (!existsSync(this.pathFor(hash))) return false
    this.present.add(hash)
    return true
  }

  /** Throws on anything but a lowercase sha256 hex digest, which also rules out path tricks. */
  pathFor (hash: string): string {
    const known = this.paths.get(hash)
    if (known !== undefined) return known
    if (!HASH_RE.test(hash)) throw new Error(`invalid code hash: ${JSON.stringify(hash.slice(0, 80))}`)
    const file = path.join(this.dir, `${hash}.mjs`)
    if (this.paths.size >= 10_000) this.paths.clear()
    this.paths.set(hash, file)
    return file
  }

  /** Verifies and stores the code; returns the file path. Writes a temp file and renames it, so readers never see half a module. */
  async put (hash: string, code: string): Promise<string> {
    const file = this.pathFor(hash)
    const bytes = Buffer.byteLength(code)
    if (bytes > this.maxCodeBytes) throw new Error(`job code is ${bytes} bytes, over the ${this.maxCodeBytes}-byte limit`)
    if (sha256(code) !== hash) throw new Error('code hash mismatch')
    if (existsSync(file)) return file
    await mkdir(this.dir, { recursive: true })
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      await writeFile(tmp, code)
      await rename(tmp, file)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
    this.present.add(hash)
    return file
  }

  /** The code text, or undefined if absent. A file that no longer matches its hash is removed. */
  async get (hash: string): Promise<string | undefined> {
    const file = this.pathFor(hash)
    let code: string
    try {
      code = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    if (sha256(code) !== hash) {
      this.present.delete(hash)
      await rm(file, { force: true })
      return undefined
    }
    return code
  }
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
