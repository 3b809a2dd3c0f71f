// Bundles a user's job module (JS or TS, with its relative and npm imports) into one
// self-contained ES module, so any peer can run it from a single file named by its hash.
import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { build, type BuildFailure, type Message } from 'esbuild'

export interface BundledJobModule {
  code: string
  /** sha256 hex of `code`. */
  hash: string
  bytes: number
}

// Bundled CommonJS dependencies call require() (for node built-ins); ESM has none, so provide one.
// The import is aliased: a user module's own `import { createRequire } from 'module'` would
// otherwise be declared twice (esbuild renames the user's `require`, not names in the banner).
const REQUIRE_BANNER = "import { createRequire as __meshworkCreateRequire } from 'module'; const require = __meshworkCreateRequire(import.meta.url);"

export async function bundleJobModule (modulePath: string): Promise<BundledJobModule> {
  const absPath = path.resolve(modulePath)
  const info = await stat(absPath).catch(() => undefined)
  if (info === undefined || !info.isFile()) throw new Error(`Job module not found: ${modulePath}`)

  let code: string
  try {
    const result = await build({
      entryPoints: [absPath],
      bundle: true,
      format: 'esm',
      platform: 'node', // node built-ins stay external
      target: 'node20',
      write: false,
      logLevel: 'silent',
      banner: { js: REQUIRE_BANNER },
    })
    const out = result.outputFiles[0]
    if (out === undefined) throw new Error('esbuild produced no output')
    code = out.text
  } catch (err) {
    throw new Error(`Could not bundle ${modulePath}: ${describeBuildError(err)}`, { cause: err })
  }
  return { code, hash: createHash('sha256').update(code).digest('hex'), bytes: Buffer.byteLength(code) }
}

function describeBuildError (err: unknown): string {
  const first: Message | undefined = (err as Partial<BuildFailure>)?.errors?.[0]
  if (first === undefined) return err instanceof Error ? err.message : String(err)
  const loc = first.location
  return loc === null ? first.text : `${loc.file}:${loc.line}:${loc.column + 1}: ${first.text}`
}
