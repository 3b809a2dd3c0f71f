import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { DEFAULT_SCHEDULER_CONFIG } from '../../src/jobs/scheduler.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { spinValues } from '../helpers/spin.js'
import { waitFor } from '../helpers/wait.js'
import { wordCounts } from '../helpers/word-counts.js'

// Jobs on a real 3-node mesh on 127.0.0.1. Every result is checked against a reference
// computed here in a single process, independently of the job modules' own code.

const root = join(import.meta.dirname, '..', '..')
const ex = (name: string): string => join(root, 'examples', name)
const fixture = (name: string): string => join(root, 'test', 'fixtures', 'jobs', name)
let mesh: LocalMesh
let work: string

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const peer = (i: number): string => mesh.nodes[i]!.peerId
const daemonsUp = async (): Promise<void> => {
  for (const [i, n] of mesh.nodes.entries()) {
    expect(n.proc?.exitCode, `node ${i} exited`).toBeNull()
    expect((await mesh.status(i)).self).toBe(n.peerId)
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-jobs-test-'))
  // The build farm runs cc; the faulty fixture keeps its markers in the test's work dir.
  mesh = await LocalMesh.start({ nodes: 3, args: ['--slots', '2', '--task-timeout-ms', '4000', '--memory-limit-mb', '96', '--allow-exec', 'cc', '--allow-fs-read', work, '--allow-fs-write', work] })
  await waitForFullMesh(mesh, 3, 60_000)
})
afterAll(async () => {
  await mesh?.stop()
  rmSync(work, { recursive: true, force: true })
})

describe('examples give the same result as a single-process reference', () => {
  it('word count', async () => {
    const counts = wordCounts(readFileSync(ex('corpus/licenses.txt'), 'utf8'))
    const out = await submitJson(api(0), [ex('wordcount.mjs'), '--input', ex('corpus/licenses.txt'), '--parts', '9'])
    const result = out.result as { words: number, distinct: number, top: Array<[string, number]> }
    expect(result.words).toBe([...counts.values()].reduce((a, b) => a + b, 0))
    expect(result.distinct).toBe(counts.size)
    for (const [word, n] of result.top) expect(counts.get(word)).toBe(n)
    const best = Math.max(...counts.values())
    expect(result.top[0]![1]).toBe(best)
    expect(out.tasks).toBeGreaterThanOrEqual(9)
    expect(Object.values(out.tasksByPeer).reduce((a, b) => a + b, 0)).toBe(out.tasks)
    expect(out.wallMs).toBeGreaterThan(0)
  })

  it('CPU-bound prime count', async () => {
    const to = 300_000
    const sieve = new Uint8Array(to)
    let expected = 0
    for (let i = 2; i < to; i++) {
      if (sieve[i] === 1) continue
      expected++
      for (let j = i * i; j < to; j += i) sieve[j] = 1
    }
    const out = await submitJson(api(1), [ex('primes.mjs'), '--input-json', JSON.stringify({ from: 0, to }), '--parts', '12'])
    expect(out.result).toBe(expected)
    expect(out.tasks).toBe(12)
  })

  it('build farm: objects identical to a local cc build, diagnostics and exit codes collected', async () => {
    const project = join(work, 'project.json')
    writeFileSync(project, spawnSync(process.execPath, [ex('build-farm/pack.mjs'), ex('build-farm/src')], { encoding: 'utf8' }).stdout)
    const out = await submitJson(api(2), [ex('build-farm.mjs'), '--input', project])
    const result = out.result as { compiled: number, failed: number, objects: Record<string, { exitCode: number, diagnostics: string, sha256: string | null }> }
    const sources = readdirSync(ex('build-farm/src')).filter(f => f.endsWith('.c'))
    expect(Object.keys(result.objects).sort()).toEqual(sources.sort())
    const local = mkdtempSync(join(work, 'cc-'))
    for (const f of readdirSync(ex('build-farm/src'))) writeFileSync(join(local, f), readFileSync(join(ex('build-farm/src'), f)))
    for (const name of sources) {
      const cc = spawnSync('cc', ['-c', '-O2', '-Wall', name, '-o', name.replace(/\.c$/, '.o')], { cwd: local, encoding: 'utf8' })
      const got = result.objects[name]!
      expect(got.exitCode).toBe(cc.status)
      expect(got.diagnostics).toBe(cc.stderr)
      const hash = cc.status === 0 ? createHash('sha256').update(readFileSync(join(local, name.replace(/\.c$/, '.o')))).digest('hex') : null
      expect(got.sha256).toBe(hash)
    }
    expect(result.failed).toBe(1) // broken.c
    expect(result.objects['warn.c']!.diagnostics).toMatch(/unused variable/)
  })

  it('action job: each task writes to a store on the node that ran it; the job returns only counts', async () => {
    const records = 500
    const out = await submitJson(api(0), [ex('store-action.mjs'), '--input-json', JSON.stringify({ records }), '--parts', '10'])
    expect(out.result).toEqual({ kind: 'action', tasks: 10, succeeded: 10, tasksByPeer: out.tasksByPeer })
    const lines: string[] = []
    const filesByPeer: Record<string, number> = {}
    for (const node of mesh.nodes) {
      // scratch/<codeHash>/<jobId>: the job's dir inside its code's workspace
      const scratch = join(node.dataDir, 'scratch')
      const workspaces = existsSync(scratch) ? readdirSync(scratch).filter(w => existsSync(join(scratch, w, out.jobId))) : []
      expect(workspaces.length).toBeLessThanOrEqual(1)
      const dir = join(scratch, workspaces[0] ?? '-', out.jobId)
      const files = existsSync(dir) ? readdirSync(dir).filter(f => f.endsWith('.jsonl')) : []
      if (files.length > 0) filesByPeer[node.peerId] = files.length
      for (const f of files) lines.push(...readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    }
    expect(filesByPeer).toEqual(out.tasksByPeer)
    const ids = lines.map(l => JSON.parse(l) as { id: number, square: number }).sort((a, b) => a.id - b.id)
    expect(ids).toEqual(Array.from({ length: records }, (_, id) => ({ id, square: id * id })))
  })

  it("split, map and reduce each get the job's scratch dir", async () => {
    const out = await submitJson(api(2), [fixture('scratch-everywhere.mjs')])
    expect(out.result).toEqual({ sum: 10, note: `split of ${out.jobId}` })
  })

  it('a TypeScript module with a relative import and an npm dependency', async () => {
    const out = await submitJson(api(1), [fixture('typed.ts'), '--input-json', '{"n":20}'])
    expect(out.result).toBe(Array.from({ length: 20 }, (_, i) => (i + 1) ** 2).reduce((a, b) => a + b, 0))
  })
})

describe('any node submits; the elected coordinator need not be that node', () => {
  it('a job submitted on a node that is not its coordinator', async () => {
    let found: { out: Awaited<ReturnType<typeof submitJson>>, submitter: number } | undefined
    for (let attempt = 0; attempt < 30 && found === undefined; attempt++) {
      const submitter = attempt % 3
      const out = await submitJson(api(submitter), [ex('primes.mjs'), '--input-json', '{"from":0,"to":1000}', '--parts', '4'])
      expect(out.result).toBe(168)
      if (out.coordinator !== peer(submitter)) found = { out, submitter }
    }
    expect(found).toBeDefined()
    expect(mesh.nodes.map(n => n.peerId)).toContain(found!.out.coordinator)
  })

  it('two jobs at once from two different nodes', async () => {
    const [a, b] = await Promise.all([
      submitJson(api(0), [ex('primes.mjs'), '--input-json', '{"from":0,"to":100000}', '--parts', '10']),
      submitJson(api(2), [ex('primes.mjs'), '--input-json', '{"from":100000,"to":200000}', '--parts', '10']),
    ])
    expect(a.result).toBe(9592)
    expect(b.result).toBe(17984 - 9592)
    expect(a.jobId).not.toBe(b.jobId)
  })
})

describe('where tasks run', () => {
  const spinJob = async (tasks: number, iters: number): Promise<{ jobId: string, coordinator: string, peers: string[], tasksByPeer: Record<string, number> }> => {
    const out = await submitJson(api(1), [fixture('spin.mjs'), '--input-json', JSON.stringify({ tasks, iters })])
    const result = out.result as { values: number[], peers: string[] }
    expect(result.values).toEqual(spinValues(tasks, iters))
    return { jobId: out.jobId, coordinator: out.coordinator, peers: result.peers, tasksByPeer: out.tasksByPeer }
  }
  const count = (peers: string[], peer: string): number => peers.filter(p => p === peer).length

  it("tasks that cost less to run than to send stay on the coordinator's node", async () => {
    const tasks = 20_000
    const { jobId, coordinator, peers } = await spinJob(tasks, 0)
    // Only the first few, placed before any task's run time was known, may run elsewhere (spread
    // as before the rule, 4,669 of the 20,000 ran on the other two nodes here).
    expect(tasks - count(peers, coordinator)).toBeLessThanOrEqual(100)
    // They ran there in groups (localGroupMax per attempt); every value above is its own task's.
    const at = mesh.nodes.findIndex(n => n.peerId === coordinator)
    const answer = await (await mesh.fetch(at, `/timeline/${jobId}`)).json() as { available: boolean, timeline?: { attempts: Array<{ group?: number }> } }
    expect(answer.available).toBe(true)
    expect(answer.timeline!.attempts.filter(a => a.group === DEFAULT_SCHEDULER_CONFIG.localGroupMax).length).toBeGreaterThan(100)
  })

  // 4,000 tiny tasks, one of them misbehaving late in the job, where its node runs them in groups.
  const tinyWith = (bad: object): string => JSON.stringify({ chunks: Array.from({ length: 4000 }, (_, i) => i === 3000 ? { ...bad, value: i } : { mode: 'ok', value: i }) })

  it('a task that fails once inside a group is run again alone and the job succeeds', async () => {
    const marker = join(work, 'flaky-in-group')
    const out = await submitJson(api(2), [fixture('faulty.mjs'), '--input-json', tinyWith({ mode: 'flaky', marker })])
    expect(readFileSync(marker, 'utf8')).toBe('failed once')
    expect(out.result).toBe(2 * (4000 * 3999) / 2)
    // The coordinator's timeline: the group holding task 3000 failed; the task then ran alone.
    const at = mesh.nodes.findIndex(n => n.peerId === out.coordinator)
    const { timeline } = await (await mesh.fetch(at, `/timeline/${out.jobId}`)).json() as { timeline: { attempts: Array<{ task: number, group?: number, outcome: string }> } }
    const failed = timeline.attempts.filter(a => a.outcome === 'failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]!.group).toBeGreaterThan(1)
    expect(failed[0]!.task).toBeLessThanOrEqual(3000)
    expect(timeline.attempts.filter(a => a.task === 3000 && a.group === undefined && a.outcome === 'ok')).toHaveLength(1)
  })

  it('a task that keeps failing inside a group fails the job with an error naming that task', async () => {
    const r = await runCli(['submit', fixture('faulty.mjs'), '--input-json', tinyWith({ mode: 'throw' }), '--api', api(2)])
    expect(r.code).toBe(1)
    // Alone after its group failed, it threw the same error twice: a bug, not run a third time.
    expect(r.stderr).toMatch(/Task 3000 failed after 2 attempts \(not run again: the same error twice\): threw: boom on purpose/)
  })

  it('tasks that run for milliseconds are spread over every node', async () => {
    const tasks = 600
    const { peers, tasksByPeer } = await spinJob(tasks, 2_000_000)
    // Kept on one node, the others would run only the few placed before the run time was known.
    for (const i of [0, 1, 2]) expect(count(peers, peer(i)), `tasks on node ${i} of ${JSON.stringify(tasksByPeer)}`).toBeGreaterThanOrEqual(20)
  })
})

describe('misbehaving tasks: retried or a clear job error, every daemon stays up', () => {
  const chunks = (mode: string, n = 1, extra: object = {}) => JSON.stringify({ chunks: Array.from({ length: n }, (_, i) => ({ mode, value: i + 1, ...extra })) })

  it('a task that fails once is retried and the job succeeds', async () => {
    const marker = join(work, 'flaky-marker')
    const out = await submitJson(api(0), [fixture('faulty.mjs'), '--input-json', chunks('flaky', 1, { marker })])
    expect(out.result).toBe(2)
    expect(readFileSync(marker, 'utf8')).toBe('failed once')
  })

  const failing: Array<[string, RegExp]> = [
    // The same error twice is a bug in the code: not run a third time; the remote stack follows the error.
    ['throw', /Task 0 failed after 2 attempts \(not run again: the same error twice\): threw: boom on purpose\nRemote traceback \(task 0 on …\w+\):\n {4}at (Object\.)?map /],
    ['hang', /Task 0 failed after 3 attempts: .*(timeout|timed out)/],
    // Executor crashes stop at the poison rule: 2 nodes, not 3 attempts.
    ['exit', /Task 0 crashed its executor or node on 2 nodes \(.*\): not placed again \(last: .*exit code 3/],
    ['oom', /Task 0 crashed its executor or node on 2 nodes \(.*\): not placed again \(last: .*out of memory/],
    ['nonserial', /Task 0 failed after 3 attempts: not-serialisable: .*function/i],
  ]
  for (const [mode, error] of failing) {
    it(`a task that keeps failing (${mode}) fails the job with an error naming the task`, async () => {
      const r = await runCli(['submit', fixture('faulty.mjs'), '--input-json', chunks(mode), '--api', api(1)])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(error)
      await daemonsUp()
      // The executors were restarted: the mesh still runs work.
      const ok = await submitJson(api(1), [fixture('faulty.mjs'), '--input-json', chunks('ok', 6)])
      expect(ok.result).toBe(2 * (1 + 2 + 3 + 4 + 5 + 6))
    })
  }
})

describe('a module\'s retry policy and the remote stack', () => {
  it('retries: 0 fails the job at its first failure; --json names the task, its kind, message and stack', async () => {
    const r = await runCli(['submit', fixture('no-retries.mjs'), '--api', api(0), '--json'])
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout) as { error: string, failure: { taskIndex: number, attempts: number, kind: string, message: string, stack: string } }
    expect(out.error).toMatch(/^Task 0 failed after 1 attempt: threw: once is enough/)
    expect(out.failure).toMatchObject({ taskIndex: 0, attempts: 1, kind: 'threw', message: 'once is enough' })
    expect(out.failure.stack).toMatch(/^Error: once is enough\n\s+at /)
  })
})

describe('a worker killed mid-job', () => {
  it('kill -9 of a worker: its tasks are re-queued and the job completes correctly', async () => {
    const n = 40
    const input = JSON.stringify({ chunks: Array.from({ length: n }, (_, i) => ({ mode: 'slow', ms: 250, value: i + 1 })) })
    const r = await runCli(['submit', fixture('faulty.mjs'), '--input-json', input, '--api', api(0), '--detach', '--json'])
    expect(r.code).toBe(0)
    const { jobId, coordinator } = JSON.parse(r.stdout) as { jobId: string, coordinator: string }
    const victim = [1, 2].find(i => peer(i) !== coordinator)!
    await waitFor('some progress', async () => {
      const rec = await (await mesh.fetch(0, `/jobs/${jobId}`)).json() as JobRecord
      return rec.done >= 5 && (rec.tasksByPeer[peer(victim)] ?? 0) > 0
    })
    await mesh.kill(victim, 'SIGKILL')
    const record = await waitFor('the job to finish', async () => {
      const rec = await (await mesh.fetch(0, `/jobs/${jobId}`)).json() as JobRecord
      return rec.state !== 'running' && rec.state !== 'pending' && rec.state !== 'splitting' && rec.state !== 'reducing' && rec
    }, 90_000)
    expect(record.state).toBe('done')
    expect(record.result).toBe(n * (n + 1))
    await mesh.startNode(victim)
    await waitForFullMesh(mesh, 3, 60_000)
  })
})

describe('bad submissions get a clear error and a non-zero exit, and disturb no running job', () => {
  it('each bad input is refused while a slow job keeps running to the right result', async () => {
    const n = 12
    const slow = JSON.stringify({ chunks: Array.from({ length: n }, (_, i) => ({ mode: 'slow', ms: 400, value: i + 1 })) })
    const started = await runCli(['submit', fixture('faulty.mjs'), '--input-json', slow, '--api', api(2), '--detach'])
    expect(started.code).toBe(0)
    const jobId = started.stdout.trim()

    const cases: Array<[string[], RegExp]> = [
      [['submit', join(work, 'missing.mjs')], /Job module not found/],
      [['submit', fixture('no-map.mjs')], /has no map\(\)/],
      [['submit', fixture('load-fails.mjs')], /failed to load: this module fails when it loads/],
      [['submit', fixture('syntax-error.mjs')], /Could not bundle/],
      [['submit', ex('primes.mjs'), '--input', join(work, 'no-such-input')], /cannot read input file .*no such file/],
      [['submit', ex('primes.mjs'), '--input-json', '{not json'], /--input-json is not valid JSON/],
      [['submit', ex('primes.mjs'), '--parts', '0'], /--parts must be an integer from 1/],
    ]
    for (const [args, message] of cases) {
      const r = await runCli([...args, '--api', api(2)])
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0)
      expect(r.stderr).toMatch(message)
    }
    const final = await waitFor('the slow job to finish', async () => {
      const r = await runCli(['result', jobId, '--api', api(2), '--json'])
      return r.code === 0 && JSON.parse(r.stdout) as { result: number }
    }, 60_000)
    expect(final.result).toBe(n * (n + 1))
    await daemonsUp()
  })
})
