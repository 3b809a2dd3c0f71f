// bundleJobModule turns a user's job module (TS or JS, relative and npm imports) into one ES
// module; CodeCache stores it by hash; the executor pool can run the result.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ExecutorPool } from '../../src/node/executor/executor-pool.js'
import { bundleJobModule } from '../../src/node/cli/bundle.js'
import { CodeCache } from '../../src/node/daemon/code-cache.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const childEntry = path.join(repoRoot, 'dist/src/node/executor/executor-child.js')
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

// Fixtures live under the repo (test-artifacts/ is git-ignored) so `zod` resolves from its node_modules.
let dir: string
const at = (...parts: string[]): string => path.join(dir, ...parts)
async function put (rel: string, text: string): Promise<string> {
  await mkdir(path.dirname(at(rel)), { recursive: true })
  await writeFile(at(rel), text)
  return at(rel)
}

const pools: ExecutorPool[] = []

beforeAll(async () => {
  await mkdir(path.join(repoRoot, 'test-artifacts'), { recursive: true })
  dir = await mkdtemp(path.join(repoRoot, 'test-artifacts', 'bundle-'))
  await put('helper.ts', 'export const scale = (n: number): number => n * 10\n')
  // A CommonJS dependency with a require() esbuild cannot resolve at build time (a computed
  // name): it stays a runtime require, which only works with the createRequire banner.
  await put('node_modules/cjs-dep/package.json', JSON.stringify({ name: 'cjs-dep', version: '1.0.0', main: 'index.js' }))
  await put('node_modules/cjs-dep/index.js', "const os = require(['o', 's'].join(''))\nmodule.exports = { eolLength: () => os.EOL.length }\n")
  await put('job.ts', `
import { z } from 'zod'
import { readFileSync } from 'node:fs'
import { createRequire } from 'module' // the common ESM idiom must not clash with the banner
import { scale } from './helper.js'
import cjs from 'cjs-dep'

const require = createRequire(import.meta.url)
const Chunk = z.object({ n: z.number() })
interface Ctx { parts?: number }

export default {
  split (input: number[], _ctx: Ctx) { return input.map(n => ({ n })) },
  map (chunk: unknown): number { return scale(Chunk.parse(chunk).n) + cjs.eolLength() - 1 + (typeof readFileSync === 'function' ? 0 : 1) + (typeof require('path').join === 'function' ? 0 : 1) },
  reduce (results: number[]): number { return results.reduce((a, b) => a + b, 0) },
}
`)
  await put('broken.ts', 'export default {\n  map (x: number) { return x +* 2 }\n}\n')
  await put('unresolved.ts', "import { nothing } from './not-there.js'\nexport default { map: () => nothing }\n")
})

afterEach(async () => {
  await Promise.all(pools.splice(0).map(async p => await p.close()))
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('bundleJobModule', () => {
  it('bundles a TS module with a relative, an npm and a CommonJS import into one ES module', async () => {
    const b = await bundleJobModule(at('job.ts'))
    expect(b.hash).toBe(sha256(b.code))
    expect(b.bytes).toBe(Buffer.byteLength(b.code))
    expect(b.code).not.toMatch(/from ["']zod["']/) // npm imports are inlined
    expect(b.code).toMatch(/from ["']node:fs["']/) // node built-ins stay external
    expect(b.code.startsWith('import { createRequire as __meshworkCreateRequire }')).toBe(true)
  })

  it('produces code the executor runs from the code cache', async () => {
    if (!existsSync(childEntry)) throw new Error(`${childEntry} is missing: run \`npx tsc -p tsconfig.json\` first`)
    const b = await bundleJobModule(at('job.ts'))
    const cache = new CodeCache(at('code-cache'))
    const modulePath = await cache.put(b.hash, b.code)
    const pool = new ExecutorPool({ slots: 1, childEntry, niceness: 0 })
    pools.push(pool)
    const run = async (op: 'split' | 'map' | 'reduce', arg: unknown): Promise<unknown> => {
      const o = await pool.run({ id: `${op}-${JSON.stringify(arg)}`, op, modulePath, codeHash: b.hash, arg, ctx: {} })
      if (!o.ok) throw new Error(`${op} failed: ${o.kind}: ${o.error}`)
      return o.value
    }
    const chunks = await run('split', [1, 2, 3]) as unknown[]
    expect(chunks).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    const results = await Promise.all(chunks.map(async c => await run('map', c)))
    expect(results).toEqual([10, 20, 30])
    expect(await run('reduce', results)).toBe(60)
    // zod's validation runs inside the bundle: a bad chunk throws in the child.
    const bad = await pool.run({ id: 'bad', op: 'map', modulePath, codeHash: b.hash, arg: { n: 'x' }, ctx: {} })
    expect(bad).toMatchObject({ ok: false, kind: 'threw' })
  })

  it('reports a missing module clearly', async () => {
    await expect(bundleJobModule(at('nope.ts'))).rejects.toThrow(`Job module not found: ${at('nope.ts')}`)
  })

  it('reports syntax and resolution errors with file and line', async () => {
    await expect(bundleJobModule(at('broken.ts'))).rejects.toThrow(new RegExp(`^Could not bundle ${at('broken.ts')}: .*broken\\.ts:2:\\d+: `))
    await expect(bundleJobModule(at('unresolved.ts'))).rejects.toThrow(/^Could not bundle .*unresolved\.ts: .*unresolved\.ts:1:\d+: Could not resolve "\.\/not-there\.js"/)
  })
})

describe('CodeCache', () => {
  const code = 'export default { map: (x) => x }\n'
  const hash = sha256(code)

  it('stores verified code under its hash and reads it back', async () => {
    const cache = new CodeCache(at('cache-a'))
    expect(cache.has(hash)).toBe(false)
    expect(await cache.get(hash)).toBeUndefined()
    const file = await cache.put(hash, code)
    expect(file).toBe(path.join(at('cache-a'), `${hash}.mjs`))
    expect(cache.pathFor(hash)).toBe(file)
    expect(cache.has(hash)).toBe(true)
    expect(await cache.get(hash)).toBe(code)
    expect(await cache.put(hash, code)).toBe(file) // idempotent
    expect(await readdir(at('cache-a'))).toEqual([`${hash}.mjs`]) // no temp files left behind
  })

  it('refuses code whose hash does not match, oversize code and non-hash names', async () => {
    const cache = new CodeCache(at('cache-b'), { maxCodeBytes: 64 })
    await expect(cache.put(sha256('other'), code)).rejects.toThrow('code hash mismatch')
    expect(cache.has(sha256('other'))).toBe(false)
    const big = 'x'.repeat(65)
    await expect(cache.put(sha256(big), big)).rejects.toThrow(/65 bytes, over the 64-byte limit/)
    expect(() => cache.pathFor('../../etc/passwd')).toThrow(/invalid code hash/)
    await expect(cache.put(hash.toUpperCase(), code)).rejects.toThrow(/invalid code hash/)
  })

  it('treats a file that no longer matches its hash as absent', async () => {
    const cache = new CodeCache(at('cache-c'))
    const file = await cache.put(hash, code)
    await writeFile(file, code + '// tampered\n')
    expect(await cache.get(hash)).toBeUndefined()
    expect(cache.has(hash)).toBe(false)
  })
})
