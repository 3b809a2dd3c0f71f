import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { BIN_PATH, LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { executorsOf } from '../helpers/procs.js'
import { spinValues } from '../helpers/spin.js'
import { waitFor } from '../helpers/wait.js'

// Capabilities, cancellation and fair share on a real 3-node mesh on 127.0.0.1; node 1 alone
// carries the label zone=b.

const fixture = (name: string): string => join(import.meta.dirname, '..', 'fixtures', 'jobs', name)
let mesh: LocalMesh
const api = (i: number): string => mesh.nodes[i]!.apiUrl
const peer = (i: number): string => mesh.nodes[i]!.peerId

beforeAll(async () => {
  mesh = await LocalMesh.start({ nodes: 3, args: i => ['--slots', '2', '--task-timeout-ms', '3600000', ...(i === 1 ? ['--label', 'zone=b', '--allow-exec', 'cc'] : [])] })
  await waitForFullMesh(mesh, 3, 60_000)
  // Every node's labels are known everywhere before placement is tested.
  await waitFor('labels gossiped', async () => {
    for (let i = 0; i < 3; i++) if ((await mesh.status(i)).peers.find(p => p.peerId === peer(1))?.labels.zone !== 'b') return false
    return true
  }, 60_000)
})
afterAll(async () => { await mesh?.stop() })

async function job (i: number, jobId: string): Promise<JobRecord> {
  return await (await mesh.fetch(i, `/jobs/${jobId}`)).json() as JobRecord
}

describe('capabilities', () => {
  it('status advertises os, arch, cores, memory, Node version, tools and labels', async () => {
    const view = await mesh.status(0)
    const n1 = view.peers.find(p => p.peerId === peer(1))!
    expect(n1).toMatchObject({ os: process.platform, arch: process.arch, nodeVersion: process.version, labels: { zone: 'b' }, accepting: true })
    expect(n1.cpuCores).toBeGreaterThan(0)
    expect(n1.memTotal).toBeGreaterThan(0)
    expect(n1.ownerCpuLoad).toBeGreaterThanOrEqual(0)
    expect(Array.isArray(n1.tools)).toBe(true)
    // `cc` is on this machine's PATH (the build-farm example needs it); in the task sandbox a node
    // advertises only the tools its tasks may run (--allow-exec), so node 1 offers it and node 0 not.
    expect(n1.tools).toContain('cc')
    expect(view.peers.find(p => p.peerId === peer(0))!.tools).not.toContain('cc')
  })

  it('a job requiring a label only one node has runs only there', async () => {
    const out = await submitJson(api(0), [fixture('zone-b.mjs'), '--input-json', '{"tasks":12}'])
    expect(out.result).toEqual(Array(12).fill(peer(1)))
    expect(Object.keys(out.tasksByPeer)).toEqual([peer(1)])
  })

  it('an unsatisfiable job fails at once, naming what is missing', async () => {
    const r = await runCli(['submit', fixture('needs-missing-tool.mjs'), '--api', api(2)])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/tools\.meshwork-no-such-tool/)
    expect(r.stderr).not.toMatch(/labels\.zone=b/) // node 1 has that one
  })

  it('a requires of the wrong shape is refused, naming the field', async () => {
    const r = await runCli(['submit', fixture('bad-requires.mjs'), '--api', api(0)])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/requires\.tools/)
  })
})

describe('bad input names the field', () => {
  it('start refuses an unknown policy, a malformed --hours, --label or --max-cpu', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--policy', 'laptop'], /--policy must be desktop or dedicated, got "laptop"/],
      [['--hours', '19-07'], /--hours must look like HH:MM-HH:MM/],
      [['--hours', '25:00-07:00'], /--hours/],
      [['--label', 'zone'], /--label must look like KEY=VALUE/],
      [['--max-cpu', '0'], /--max-cpu must be a percentage/],
      [['--owner-busy-above', '20', '--owner-idle-below', '40'], /--owner-idle-below .* must not exceed --owner-busy-above/],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['start', '--no-mdns', '--port', '0', '--api-port', '0', ...args], 60_000)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
    }
  })
})

describe('cancellation', () => {
  /** Executor CPU ticks of every node over about a second. */
  async function executorTicksOverASecond (): Promise<number> {
    const before = new Map(mesh.nodes.flatMap(n => executorsOf(n.pid as number)).map(e => [e.pid, e.ticks]))
    await new Promise(resolve => setTimeout(resolve, 1000))
    let sum = 0
    for (const e of mesh.nodes.flatMap(n => executorsOf(n.pid as number))) sum += e.ticks - (before.get(e.pid) ?? e.ticks)
    return sum
  }

  it('cancel stops a running job\'s tasks on every peer; no executor keeps burning CPU', async () => {
    const r = await runCli(['submit', fixture('spin.mjs'), '--input-json', JSON.stringify({ tasks: 12, iters: 50_000_000_000 }), '--api', api(0), '--detach'])
    expect(r.code, r.stderr).toBe(0)
    const jobId = r.stdout.trim()
    // Tasks burning CPU on every node.
    await waitFor('tasks on every node', async () => {
      if ((await job(0, jobId)).state !== 'running') return false
      const before = mesh.nodes.map(n => executorsOf(n.pid as number).reduce((t, e) => t + e.ticks, 0))
      await new Promise(resolve => setTimeout(resolve, 500))
      return mesh.nodes.every((n, i) => executorsOf(n.pid as number).reduce((t, e) => t + e.ticks, 0) - (before[i] as number) >= 3)
    }, 120_000, 10)
    const c = await runCli(['cancel', jobId, '--api', api(2)])
    expect(c.code, c.stderr).toBe(0)
    await waitFor('job cancelled everywhere', async () => {
      for (let i = 0; i < 3; i++) if ((await job(i, jobId)).state !== 'cancelled') return false
      return true
    }, 60_000, 100)
    const listed = await runCli(['jobs', '--api', api(1)])
    expect(listed.stdout).toMatch(new RegExp(`${jobId}\\s+cancelled`))
    // Executors were recycled: none keeps spinning (a few ticks of start-up allowed).
    await waitFor('executors idle', async () => (await executorTicksOverASecond()) < 30, 60_000, 10)
    // Cancelling again, or an unknown job, says so and exits non-zero.
    const again = await runCli(['cancel', jobId, '--api', api(0)])
    expect(again.code).toBe(5) // refused: nothing to cancel
    expect(again.stderr).toMatch(/already cancelled/)
    const unknown = await runCli(['cancel', 'no-such-job', '--api', api(0)])
    expect(unknown.code).toBe(3) // not found
    expect(unknown.stderr).toMatch(/^meshwork: no job no-such-job on this node$/m)
  })

  it('Ctrl-C on an interactive submit cancels its job; --detach returns at once', async () => {
    const child = spawn(process.execPath, [BIN_PATH, 'submit', fixture('spin.mjs'), '--input-json', JSON.stringify({ tasks: 6, iters: 50_000_000_000 }), '--api', api(1)], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      const jobId = await waitFor('the job id on stderr', () => /job (\S+) →/.exec(stderr)?.[1], 120_000)
      await waitFor('job running', async () => (await job(1, jobId)).state === 'running', 120_000)
      child.kill('SIGINT')
      expect(await exited).toBe(130)
      await waitFor('job cancelled', async () => (await job(1, jobId)).state === 'cancelled', 60_000)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})

describe('fair share', () => {
  it('a short job submitted behind a long one finishes long before it', async () => {
    const long = { tasks: 40, iters: 1_000_000_000 }
    const r = await runCli(['submit', fixture('spin.mjs'), '--input-json', JSON.stringify(long), '--api', api(0), '--detach', '--priority', 'low'])
    expect(r.code, r.stderr).toBe(0)
    const longId = r.stdout.trim()
    await waitFor('long job running', async () => { const j = await job(0, longId); return j.state === 'running' && j.inFlight > 0 }, 120_000)
    const short = await submitJson(api(2), [fixture('spin.mjs'), '--input-json', JSON.stringify({ tasks: 3, iters: 1000 })])
    expect((short.result as { values: number[] }).values).toEqual(spinValues(3, 1000))
    const atShortEnd = await job(0, longId)
    expect(atShortEnd.state).toBe('running')
    expect(atShortEnd.done).toBeLessThan(long.tasks / 2)
    const done = await waitFor('long job done', async () => { const j = await job(0, longId); return j.state === 'done' || j.state === 'failed' ? j : undefined }, 900_000, 500)
    expect(done.state, done.error).toBe('done')
    expect((done.result as { values: number[] }).values).toEqual(spinValues(long.tasks, long.iters))
  })
})
