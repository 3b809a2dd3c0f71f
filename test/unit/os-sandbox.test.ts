// The OS sandbox (bubblewrap) and the executor's limits, on the real pool with real children.
// Task code here starts an unrestricted `node` as an allowed tool: Node's permission model does
// not reach it, so what it can see is what the OS sandbox alone lets through.
import { createServer, type Server } from 'node:net'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ExecutorPool, type ExecutorPoolOptions, type TaskOutcome } from '../../src/node/executor/executor-pool.js'
import { probeBwrap } from '../../src/node/executor/bwrap.js'
import { MemoryCaps } from '../../src/node/executor/memory-cap.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const childEntry = path.join(repoRoot, 'dist/src/node/executor/executor-child.js')

const PROBE = `
import { spawnSync } from 'node:child_process'
export default {
  split (input) { return [input] },
  map (chunk) {
    switch (chunk.do) {
      case 'node': {
        const r = spawnSync('node', ['-e', chunk.code], { encoding: 'utf8', timeout: 20000 })
        return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim().split('\\n').pop() }
      }
      case 'env': return { ...process.env }
      case 'bytes': { const keep = []; for (let i = 0; i < chunk.n; i++) { const b = Buffer.alloc(chunk.mb * 1048576); b.fill(1); keep.push(b) } return keep.length }
      case 'bad-message': process.send({ t: 'done', results: 1 }); return new Promise(() => {})
      case 'kill-parent': process.kill(process.ppid, 'SIGKILL'); return process.ppid
      default: return 'plain'
    }
  },
  reduce (r) { return r },
}
`

let dir: string
let scratch: string
let secretDir: string
let server: Server
let port: number
const pools: ExecutorPool[] = []
let seq = 0

function makePool (opts: Partial<ExecutorPoolOptions> & { mode?: 'bwrap' | 'none', allowNetwork?: boolean } = {}): ExecutorPool {
  const { mode = 'bwrap', allowNetwork = false, ...rest } = opts
  const pool = new ExecutorPool({ slots: 1, childEntry, niceness: 0, taskTimeoutMs: 60_000, sandbox: { mode, allowNetwork, allowExec: ['node'], fsRead: [], fsWrite: [] }, ...rest })
  pools.push(pool)
  return pool
}

async function run (pool: ExecutorPool, chunk: unknown, extra: { network?: boolean, env?: Record<string, string> } = {}): Promise<TaskOutcome> {
  return await pool.run({ id: `o${++seq}`, op: 'map', modulePath: path.join(dir, 'probe.mjs'), codeHash: 'probe', arg: chunk, ctx: { scratchDir: scratch }, tools: ['node'], ...extra })
}

/** Runs `code` in an unrestricted node inside the executor's sandbox; its stdout. */
async function inside (pool: ExecutorPool, code: string, extra: { network?: boolean } = {}): Promise<string> {
  const out = await run(pool, { do: 'node', code }, extra)
  if (!out.ok) throw new Error(`${out.kind}: ${out.error}`)
  return (out.value as { out: string }).out
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshwork-os-sandbox-'))
  scratch = path.join(dir, 'scratch', 'code', 'job1')
  secretDir = path.join(dir, 'data')
  mkdirSync(scratch, { recursive: true })
  mkdirSync(secretDir)
  writeFileSync(path.join(secretDir, 'mesh.key'), 'SECRET-MESH-KEY')
  writeFileSync(path.join(dir, 'probe.mjs'), PROBE)
  process.env.AWS_SECRET_ACCESS_KEY = 'AKIA-test-secret'
  server = createServer(s => s.end('hello from the host\n'))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})
afterEach(async () => { await Promise.all(pools.splice(0).map(async p => await p.close())) })
afterAll(() => {
  delete process.env.AWS_SECRET_ACCESS_KEY
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

const readSecret = (file: string): string => `try { process.stdout.write(require('fs').readFileSync(${JSON.stringify(file)}, 'utf8')) } catch (e) { process.stdout.write(e.code) }`
const connect = (p: number): string => `const s = require('net').connect(${p}, '127.0.0.1'); s.on('data', d => { process.stdout.write('CONNECTED ' + d); process.exit(0) }); s.on('error', e => { process.stdout.write(e.code); process.exit(0) })`

describe('bubblewrap on this machine', () => {
  it('runs Node in the sandbox (the node refuses tasks where it cannot)', () => {
    expect(probeBwrap({ nodePath: process.execPath, packageJson: path.join(repoRoot, 'package.json') })).toMatchObject({ ok: true, version: expect.stringMatching(/^bubblewrap /) })
  })
})

describe('what task code can reach inside the OS sandbox', () => {
  it('without the sandbox (--sandbox none) an allowed tool reads any file: the hole this closes', async () => {
    const pool = makePool({ mode: 'none' })
    expect(await inside(pool, readSecret(path.join(secretDir, 'mesh.key')))).toBe('SECRET-MESH-KEY')
  })

  it('no file of the host outside its binds: not the data dir, not $HOME, not /etc/shadow, not through /proc/self/task/*/root', async () => {
    const pool = makePool()
    expect(await inside(pool, readSecret(path.join(secretDir, 'mesh.key')))).toBe('ENOENT')
    expect(await inside(pool, readSecret('/etc/shadow'))).toBe('ENOENT')
    expect(await inside(pool, readSecret(`/proc/self/root${secretDir}/mesh.key`))).toBe('ENOENT')
    const viaTask = `const fs = require('fs'); const tid = fs.readdirSync('/proc/self/task')[0]; try { fs.readFileSync('/proc/self/task/' + tid + '/root${secretDir}/mesh.key'); process.stdout.write('READ') } catch (e) { process.stdout.write(e.code) }`
    expect(await inside(pool, viaTask)).toBe('ENOENT')
    const top = JSON.parse(await inside(pool, "process.stdout.write(JSON.stringify(require('fs').readdirSync('/')))")) as string[]
    for (const hidden of ['root', 'home', 'var', 'opt', 'srv', 'mnt']) expect(top).not.toContain(hidden)
    // Of the repository only the executor's own code and package.json are bound, not its sources or tests.
    expect(await inside(pool, `process.stdout.write(String(['src', 'test', 'node_modules'].some(d => require('fs').existsSync(${JSON.stringify(repoRoot)} + d))))`)).toBe('false')
    expect(await inside(pool, `process.stdout.write(String(require('fs').existsSync(${JSON.stringify(os.homedir())}) && ${JSON.stringify(os.homedir())} !== '/'))`)).toBe('false')
  })

  it('its workspace is writable, the rest read-only; /tmp is its own', async () => {
    const pool = makePool()
    expect(await inside(pool, `require('fs').writeFileSync(${JSON.stringify(path.join(scratch, 'w.txt'))}, 'x'); process.stdout.write('ok')`)).toBe('ok')
    expect(await inside(pool, "try { require('fs').writeFileSync('/usr/x', 'x') } catch (e) { process.stdout.write(e.code) }")).toMatch(/EROFS|EACCES|EPERM/)
    writeFileSync(path.join(os.tmpdir(), 'meshwork-host-tmp-marker'), 'host')
    expect(await inside(pool, "process.stdout.write(String(require('fs').existsSync('/tmp/meshwork-host-tmp-marker')))")).toBe('false')
    rmSync(path.join(os.tmpdir(), 'meshwork-host-tmp-marker'))
  })

  it('sees only its own processes and cannot signal the daemon', async () => {
    const pool = makePool()
    const pids = JSON.parse(await inside(pool, "process.stdout.write(JSON.stringify(require('fs').readdirSync('/proc').filter(n => /^\\\\d+$/.test(n)).map(Number)))")) as number[]
    expect(pids.length).toBeLessThan(10)
    expect(pids).not.toContain(process.pid)
    expect(await inside(pool, `try { process.kill(${process.pid}, 0); process.stdout.write('VISIBLE') } catch (e) { process.stdout.write(e.code) }`)).toBe('ESRCH')
    // The executor's own parent inside is the sandbox's init, which the kernel protects from its
    // namespace's processes: the signal is delivered to nobody.
    await run(pool, { do: 'kill-parent' })
    expect(process.pid).toBeGreaterThan(0)
    expect(await run(pool, { do: 'plain' })).toMatchObject({ ok: true, value: 'plain' })
  })

  it('has no network by default, not even 127.0.0.1; a network job on a node that allows it has', async () => {
    const pool = makePool()
    expect(await inside(pool, connect(port))).toMatch(/ECONNREFUSED|ENETUNREACH/)
    const refused = await run(pool, { do: 'node', code: connect(port) }, { network: true })
    expect(refused).toMatchObject({ ok: false, kind: 'denied' })
    expect(!refused.ok && refused.error).toMatch(/network: true, which this node does not allow \(start it with --allow-network\)/)
    const open = makePool({ allowNetwork: true })
    expect(await inside(open, connect(port), { network: true })).toBe('CONNECTED hello from the host')
    expect(await inside(open, connect(port))).toMatch(/ECONNREFUSED|ENETUNREACH/)
  })

  it('sees an allowlisted environment: PATH, LANG, TZ, HOME (its workspace) and its job module\'s env', async () => {
    const pool = makePool()
    const out = await run(pool, { do: 'env' }, { env: { CRAWL_DEPTH: '3' } })
    expect(out.ok).toBe(true)
    const env = (out as { value: Record<string, string> }).value
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined()
    expect(env.MESHWORK_TOKEN).toBeUndefined()
    expect(env.HOME).toBe(scratch)
    expect(env.CRAWL_DEPTH).toBe('3')
    const unexpected = Object.keys(env).filter(k => !['PATH', 'LANG', 'TZ', 'HOME', 'PWD', 'CRAWL_DEPTH'].includes(k) && !k.startsWith('MESHWORK_EXECUTOR_'))
    expect(unexpected).toEqual([])
    const reserved = await run(pool, { do: 'env' }, { env: { NODE_OPTIONS: '--allow-fs-read=*' } })
    expect(reserved).toMatchObject({ ok: false, kind: 'denied' })
    expect(!reserved.ok && reserved.error).toMatch(/NODE_OPTIONS is reserved/)
  })
})

describe('resident memory is capped', () => {
  const hog = { do: 'bytes', n: 4, mb: 400 }
  it(`with the machine's cgroup (${MemoryCaps.detect().describe()}): four 400 MB buffers under a 512 MB limit fail as oom, the pool goes on`, async () => {
    const pool = makePool({ memoryLimitMB: 512 })
    const out = await run(pool, hog)
    expect(out).toMatchObject({ ok: false, kind: 'oom' })
    expect(await run(pool, { do: 'plain' })).toMatchObject({ ok: true })
  })

  it('with RLIMIT_AS only: the allocation fails inside the task, as oom', async () => {
    const pool = makePool({ memoryLimitMB: 512, memoryCap: 'rlimit' })
    const out = await run(pool, hog)
    expect(out).toMatchObject({ ok: false, kind: 'oom' })
    expect(!out.ok && out.error).toMatch(/out of memory/)
    expect(await run(pool, { do: 'plain' })).toMatchObject({ ok: true })
  })

  it('with neither: the pool sees the resident size and kills the executor, as oom', async () => {
    const pool = makePool({ memoryLimitMB: 256, memoryCap: 'off' })
    const out = await run(pool, { do: 'bytes', n: 8, mb: 100 })
    expect(out).toMatchObject({ ok: false, kind: 'oom' })
    expect(!out.ok && out.error).toMatch(/MB resident, over its limit of 256 MB/)
    expect(await run(pool, { do: 'plain' })).toMatchObject({ ok: true })
  })
})

describe('the executor channel is a wire', () => {
  it('a malformed message from task code kills that executor and fails its attempt as protocol; the pool goes on', async () => {
    const pool = makePool({ mode: 'none' })
    const out = await run(pool, { do: 'bad-message' })
    expect(out).toMatchObject({ ok: false, kind: 'protocol' })
    expect(!out.ok && out.error).toMatch(/malformed message \(results: /)
    expect(await run(pool, { do: 'plain' })).toMatchObject({ ok: true, value: 'plain' })
  })
})
