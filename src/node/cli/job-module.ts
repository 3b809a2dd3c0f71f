import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { RETRYABLE_KINDS, RetryPolicySchema, type RetryPolicy } from '../../jobs/job-spec.js'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { JobEnvSchema, RequiresSchema, type Requires } from '../../jobs/job-spec.js'
import { RecordsSchema, type Records } from '../../jobs/input-source.js'
import { jobEnvProblem } from '../executor/sandbox.js'
import { bundleJobModule } from './bundle.js'
import { MeshworkError } from '../../util/errors.js'

// Turns a user's job module into what the mesh runs: one bundled file, named by its hash,
// checked here — before anything is sent — to have the documented shape.

export class JobModuleError extends MeshworkError { readonly code = 'job-module' }

export interface PreparedModule {
  code: string
  hash: string
  moduleName: string
  kind: 'function' | 'action'
  requires?: Requires
  /** Variables the module gives its tasks (`env: { NAME: 'value' }`). */
  env?: Record<string, string>
  /** How input files are cut into records (`records`; absent: lines, as text). */
  records?: Records
  /** The module exports `combine(results, ctx)`: each worker folds its finished tasks' results before they travel. */
  combine?: true
  /** The module's retry policy (`retries`, `retryOn`). */
  retry?: RetryPolicy
}

export async function prepareJobModule (modulePath: string): Promise<PreparedModule> {
  let bundled
  try {
    bundled = await bundleJobModule(modulePath)
  } catch (err) {
    throw new JobModuleError((err as Error).message)
  }
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-module-'))
  let ns: Record<string, unknown>
  try {
    const file = join(dir, `${bundled.hash}.mjs`)
    writeFileSync(file, bundled.code)
    ns = await import(pathToFileURL(file).href) as Record<string, unknown>
  } catch (err) {
    throw new JobModuleError(`Job module ${modulePath} failed to load: ${(err as Error).message}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const def = ns.default
  const mod = (def !== null && typeof def === 'object') ? def as Record<string, unknown> : ns
  const fn = (name: string): boolean => typeof (mod[name] ?? ns[name]) === 'function'
  const kind = mod.kind ?? ns.kind ?? 'function'
  if (kind !== 'function' && kind !== 'action') throw new JobModuleError(`Job module ${modulePath}: kind must be 'function' or 'action', got ${JSON.stringify(kind)}`)
  const missing = ['split', 'map', ...(kind === 'function' ? ['reduce'] : [])].filter(name => !fn(name))
  if (missing.length > 0) {
    throw new JobModuleError(`Job module ${modulePath} has no ${missing.map(m => `${m}()`).join(' or ')}: export default { ${kind === 'function' ? 'split, map, reduce' : "kind: 'action', split, map"} }`)
  }
  const rawRequires = mod.requires ?? ns.requires
  let requires: Requires | undefined
  if (rawRequires !== undefined) {
    const parsed = RequiresSchema.safeParse(rawRequires)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new JobModuleError(`Job module ${modulePath}: requires.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'} (expected { tools?: string[], labels?: { key: value }, memoryMB?: number, cpus?: number })`)
    }
    requires = parsed.data
  }
  // `network: true`: the tasks reach the network, so they run only where a node allows it.
  const network = mod.network ?? ns.network
  if (network !== undefined && typeof network !== 'boolean') throw new JobModuleError(`Job module ${modulePath}: network must be true or false, got ${JSON.stringify(network)}`)
  if (network === true) requires = { ...requires, network: true }
  const rawEnv = mod.env ?? ns.env
  let env: Record<string, string> | undefined
  if (rawEnv !== undefined) {
    const parsed = JobEnvSchema.safeParse(rawEnv)
    const problem = parsed.success ? jobEnvProblem(parsed.data) : `env: ${parsed.error.issues[0]?.message ?? 'invalid'} (expected { NAME: 'value' })`
    if (problem !== undefined) throw new JobModuleError(`Job module ${modulePath}: ${problem}`)
    env = parsed.data
  }
  const records = recordsOf(mod.records ?? ns.records, modulePath)
  const retry = retryOf(mod.retries ?? ns.retries, mod.retryOn ?? ns.retryOn, modulePath)
  const combine = fn('combine')
  if (combine && kind === 'action') throw new JobModuleError(`Job module ${modulePath}: combine() folds results for reduce(), and an action job has neither results nor reduce`)
  const rawCombine = mod.combine ?? ns.combine
  if (rawCombine !== undefined && !combine) throw new JobModuleError(`Job module ${modulePath}: combine must be a function (results, ctx) => result, got ${typeof rawCombine}`)
  return { code: bundled.code, hash: bundled.hash, moduleName: basename(modulePath), kind, ...(requires !== undefined ? { requires } : {}), ...(env !== undefined ? { env } : {}), ...(records !== undefined ? { records } : {}), ...(combine ? { combine: true as const } : {}), ...(retry !== undefined ? { retry } : {}) }
}

/** `retries: n` (runs after the first failure, 0–10) and `retryOn: ['timeout', …]` as the job spec carries them. */
function retryOf (retries: unknown, on: unknown, modulePath: string): RetryPolicy | undefined {
  if (retries === undefined && on === undefined) return undefined
  const parsed = RetryPolicySchema.safeParse({ ...(retries !== undefined ? { retries } : {}), ...(on !== undefined ? { on } : {}) })
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const field = issue?.path[0] === 'on' ? `retryOn${issue.path.length > 1 ? `[${String(issue.path[1])}]` : ''}` : 'retries'
  throw new JobModuleError(`Job module ${modulePath}: ${field}: ${issue?.message ?? 'invalid'} (expected retries: 0–10 and retryOn: some of ${RETRYABLE_KINDS.join(', ')})`)
}

/** `records: 'lines' | 'file' | 'whole' | { delimiter?, file?, whole?, encoding? }` as the job spec carries it. */
function recordsOf (raw: unknown, modulePath: string): Records | undefined {
  if (raw === undefined || raw === 'lines') return undefined
  if (raw === 'file') return { file: true }
  if (raw === 'whole') return { whole: true }
  const parsed = RecordsSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new JobModuleError(`Job module ${modulePath}: records${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'} (expected 'lines', 'file', 'whole' or { delimiter?: string, file?: true, whole?: true, encoding?: 'utf8' | 'bytes' })`)
  }
  return parsed.data
}
