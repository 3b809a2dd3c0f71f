import { readdirSync, readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Server } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXECUTOR_MARKER } from '../../src/node/executor/executor-process.js'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { createMeshKeyFile } from '../../src/security/mesh-key.js'
import { runCli } from '../helpers/cli.js'
import { executorsOf } from '../helpers/procs.js'
import { waitFor } from '../helpers/wait.js'

// Issue 21's attacks, as a mesh member submitting hostile job code would mount them, on real
// `meshwork start` processes (bubblewrap sandbox, the default) and through `meshwork submit`:
// each test fails on fd1137c, where the task read the mesh key, killed its node, crashed the
// daemon, outgrew its memory limit, left spinning orphans, saw the daemon's secrets and reached
// 127.0.0.1. The job module is test/fixtures/jobs/hostile.mjs (one attack per chunk `mode`).
//
// One mesh: 3 nodes with --policy dedicated --memory-limit-mb 512, an AWS secret in their
// environment and their mesh key in their data dirs (where `meshwork init` puts it); every node
// lets jobs start `node` (--tools node --allow-exec node), so an attack can also run in a plain
// Node the permission model does not reach: what that gets is what the OS sandbox lets through.
// Node 3 (--allow-network, label net=yes) joins for the network tests; the orphan test kills a
// daemon and runs last.

const hostile = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'hostile.mjs')
/** The poison rule's error (src/jobs/scheduler.ts noteCrash), with the two nodes' short ids captured. */
const POISON = /^Task 0 crashed its executor or node on 2 nodes \(…(\S{8}), …(\S{8})\): not placed again \(last: (.+)\)$/s
const AWS_SECRET = `hostile-aws-secret-${Math.random().toString(36).slice(2)}`
const NODE_ARGS = ['--policy', 'dedicated', '--memory-limit-mb', '512', '--tools', 'node', '--allow-exec', 'node', '--slots', '2']

let base = ''
let mesh: LocalMesh | undefined
let server: Server | undefined
let serverPort = 0
/** Generated job modules: hostile.mjs with one more export each. */
const modules = { tool: '', network: '', label: '' }
/** Text no task may ever get hold of: name → value. */
const secrets: Record<string, string> = {}

const m = (): LocalMesh => mesh as LocalMesh
const api = (i: number): string => m().nodes[i]!.apiUrl
const short = (peerId: string): string => peerId.slice(-8)

interface Submitted { code: number, stdout: string, stderr: string, ms: number, out: Record<string, any> | undefined }

/** `meshwork submit MODULE --input-json INPUT --json` at node `at`; waits for the job's end unless `--detach`. */
async function submit (module: string, input: unknown, at = 0, extra: string[] = []): Promise<Submitted> {
  const started = Date.now()
  const r = await runCli(['submit', module, '--input-json', JSON.stringify(input), '--api', api(at), '--json', ...extra])
  let out: Record<string, any> | undefined
  try { out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') } catch { out = undefined }
  return { ...r, ms: Date.now() - started, out }
}

function expectNoSecret (text: string, where: string): void {
  for (const [name, value] of Object.entries(secrets)) expect(text.includes(value), `${name} found in ${where}`).toBe(false)
}

function alive (pid: number | undefined): boolean {
  if (pid === undefined) return false
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Every daemon of `indexes` is the same process as at its start, alive, and answers status; each sees all of them alive. */
async function expectDaemonsUp (pids: number[], indexes: number[] = [0, 1, 2]): Promise<void> {
  for (const i of indexes) {
    const node = m().nodes[i]!
    expect({ node: i, pid: node.pid, exitCode: node.proc?.exitCode ?? null, signal: node.proc?.signalCode ?? null, alive: alive(node.pid) })
      .toEqual({ node: i, pid: pids[i], exitCode: null, signal: null, alive: true })
    expect((await m().fetch(i, '/status')).status).toBe(200)
  }
  await waitForFullMesh(m(), indexes.length, 60_000)
}

/** The failed attempts of a job, from its coordinator's timeline: the worker's failure kind leads each error (`protocol: …`). */
async function failedAttempts (jobId: string, coordinator: string): Promise<Array<{ peer: string, error: string }>> {
  const at = m().nodes.findIndex(n => n.peerId === coordinator)
  const answer = await (await m().fetch(at, `/timeline/${jobId}`)).json() as { available: boolean, timeline?: { attempts: Array<{ peer: string, outcome: string, error?: string }> } }
  expect(answer.available).toBe(true)
  return answer.timeline!.attempts.filter(a => a.outcome === 'failed').map(a => ({ peer: a.peer, error: a.error ?? '' }))
}

const daemonPids = (): number[] => m().nodes.map(n => n.pid as number)

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'meshwork-hostile-'))
  // The mesh key where a real node keeps it: DATA_DIR/mesh.key (0600), the same in every data dir.
  const key = join(base, 'mesh.key')
  createMeshKeyFile(key)
  const keyText = readFileSync(key, 'utf8')
  secrets['the mesh key'] = keyText.trim().split('\n').pop()!
  for (let i = 0; i < 4; i++) {
    mkdirSync(join(base, 'mesh', `node-${i}`), { recursive: true, mode: 0o700 })
    writeFileSync(join(base, 'mesh', `node-${i}`, 'mesh.key'), keyText, { mode: 0o600 })
  }
  rmSync(key)
  for (const [name, extra] of [['tool', "requires: { tools: ['node'] }"], ['network', 'network: true'], ['label', "requires: { labels: { net: 'yes' } }"]] as const) {
    modules[name] = join(base, `hostile-${name}.mjs`)
    writeFileSync(modules[name], `import hostile from ${JSON.stringify(hostile)}\nexport default { ...hostile, ${extra} }\n`)
  }
  server = createServer(socket => {
    socket.on('error', () => {}) // a task's or the test's probe may reset it
    socket.end('hello from the test\n')
  })
  await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
  serverPort = (server.address() as { port: number }).port

  mesh = new LocalMesh({
    nodes: 3,
    baseDir: join(base, 'mesh'),
    meshKeyFile: false,
    policy: 'dedicated',
    env: { AWS_SECRET_ACCESS_KEY: AWS_SECRET },
    args: i => [...NODE_ARGS, ...(i === 3 ? ['--allow-network', '--label', 'net=yes'] : [])],
  })
  await mesh.startNode(0)
  await Promise.all([mesh.startNode(1), mesh.startNode(2)])
  await waitForFullMesh(mesh, 3, 90_000)
  secrets['the API token'] = mesh.token
  secrets['the AWS secret'] = AWS_SECRET
}, 180_000)

afterAll(async () => {
  try {
    await mesh?.stop()
  } finally {
    await new Promise<void>(resolve => server !== undefined ? server.close(() => resolve()) : resolve())
    if (base !== '' && process.env.MESHWORK_KEEP_MESH_DIR === undefined) rmSync(base, { recursive: true, force: true })
  }
}, 60_000)

describe('1. reading the owner\'s files', () => {
  it('no task reads a mesh key, API token, peer key, /etc/shadow or the daemon\'s environ — not directly, not through /proc/self/task/<tid>/root, not from a plain node it starts', async () => {
    const pids = daemonPids()
    // The daemons do hold the secrets these attacks are after.
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toContain(AWS_SECRET)
    const targets = [
      ...m().nodes.flatMap(n => ['mesh.key', 'api.token', 'peer.key'].map(f => join(n.dataDir, f))),
      '/etc/shadow',
      join(homedir(), '.ssh', 'id_rsa'),
      ...pids.map(pid => `/proc/${pid}/environ`),
    ]
    for (const [module, via] of [[hostile, undefined], [modules.tool, 'node']] as const) {
      const r = await submit(module, { mode: 'read', tasks: 3, paths: targets, via })
      expect(r.code, r.stderr).toBe(0)
      expectNoSecret(r.stdout + r.stderr, `submit's output (via ${via ?? 'task code'})`)
      const reports = r.out!.result as Array<{ peerId: string, tids: string[], reads: Record<string, { ok: boolean, code?: string }> }>
      expect(reports).toHaveLength(3)
      for (const report of reports) {
        expect(report.tids.length).toBeGreaterThan(0)
        // The path to the key was tried, for every thread the task could name.
        for (const tid of report.tids) expect(report.reads).toHaveProperty([`/proc/self/task/${tid}/root${join(m().nodes[0]!.dataDir, 'mesh.key')}`])
        const hostFiles = Object.entries(report.reads).filter(([path]) => targets.some(t => path.endsWith(t)))
        expect(hostFiles.length).toBeGreaterThanOrEqual(targets.length * 3)
        for (const [path, outcome] of hostFiles) expect({ via: via ?? 'task code', path, ok: outcome.ok }).toEqual({ via: via ?? 'task code', path, ok: false })
      }
    }
    // Nor did any of it reach a node's log (where an executor's stderr goes).
    for (const n of m().nodes) expectNoSecret(readFileSync(join(n.dataDir, 'node.log'), 'utf8'), `node ${n.index}'s log`)
    await expectDaemonsUp(pids)
  })
})

describe('2. killing the node', () => {
  it('process.kill(process.ppid) and SIGKILL to every pid a task can see leave every daemon up; the daemons\' pids answer ESRCH', async () => {
    const pids = daemonPids()
    // In task code: the daemons' pids, every pid it can see (it may not list /proc: it probes), its parent.
    const direct = await submit(hostile, { mode: 'kill', tasks: 3, hostPids: pids })
    expect(direct.code, direct.stderr).toBe(0)
    for (const report of direct.out!.result as Array<Record<string, any>>) {
      expect(Object.values(report.hostPids)).toEqual(pids.map(() => 'ESRCH'))
      // Its own PID namespace: a handful of pids (the sandbox's init, the executor and its threads), no host process.
      expect(report.visible.length).toBeLessThan(64)
      for (const pid of pids) expect(report.visible).not.toContain(pid)
      // Its parent is the sandbox's init, which a signal from inside cannot kill: the task lived on.
      expect(report.parentAfter).toBe(report.ppid)
    }
    await expectDaemonsUp(pids)
    // In a plain node the task starts, which may list /proc and kills all it lists but itself and the executor.
    const unrestricted = await submit(modules.tool, { mode: 'kill', via: 'node', tasks: 3, hostPids: pids, parent: false })
    expect(unrestricted.code, unrestricted.stderr).toBe(0)
    for (const report of unrestricted.out!.result as Array<Record<string, any>>) {
      expect(Object.values(report.hostPids)).toEqual(pids.map(() => 'ESRCH'))
      expect(report.visible.length).toBeLessThanOrEqual(4)
      for (const pid of pids) expect(report.visible).not.toContain(pid)
    }
    await expectDaemonsUp(pids)
    const after = await submit(hostile, { mode: 'plain', tasks: 3 })
    expect({ code: after.code, result: after.out?.result }).toEqual({ code: 0, result: [0, 1, 2] })
  })
})

describe('3. a malformed executor message', () => {
  it('process.send({ t: "done", results: 1 }) fails the job as a protocol error after 2 nodes; every node stays up', async () => {
    const pids = daemonPids()
    const r = await submit(hostile, { mode: 'bad-message' })
    expect(r.code).toBe(1)
    expect(r.out?.state).toBe('failed')
    const match = POISON.exec(r.out?.error ?? '')
    expect(match, r.out?.error).not.toBeNull()
    expect(match![1]).not.toBe(match![2])
    expect(match![3]).toMatch(/^the executor sent a malformed message \(results: .*\); executor killed$/)
    const failed = await failedAttempts(r.out!.jobId, r.out!.coordinator)
    expect(failed.map(a => short(a.peer))).toEqual([match![1], match![2]])
    for (const a of failed) expect(a.error).toMatch(/^protocol: the executor sent a malformed message/)
    await expectDaemonsUp(pids)
    for (const i of [0, 1, 2]) expect(readFileSync(join(m().nodes[i]!.dataDir, 'node.log'), 'utf8')).not.toMatch(/is not iterable/)
  })
})

describe('4. memory beyond the limit', () => {
  it('four filled 400 MB buffers under --memory-limit-mb 512 fail as oom; the nodes stay up and a normal job then succeeds', async () => {
    const pids = daemonPids()
    const r = await submit(hostile, { mode: 'hog', n: 4, mb: 400 })
    expect(r.code, r.stdout).toBe(1)
    const match = POISON.exec(r.out?.error ?? '')
    expect(match, r.out?.error).not.toBeNull()
    // Killed by the kernel in its cgroup or by the pool's RSS watch, or failing to allocate under RLIMIT_AS.
    expect(match![3]).toMatch(/out of memory.*--memory-limit-mb/)
    const failed = await failedAttempts(r.out!.jobId, r.out!.coordinator)
    expect(failed.map(a => short(a.peer))).toEqual([match![1], match![2]])
    for (const a of failed) expect(a.error).toMatch(/^oom: task ran out of memory/)
    await expectDaemonsUp(pids)
    const after = await submit(hostile, { mode: 'plain', tasks: 3 })
    expect({ code: after.code, result: after.out?.result }).toEqual({ code: 0, result: [0, 1, 2] })
  })
})

describe('6. secrets in the environment', () => {
  it('a task sees neither AWS_SECRET_ACCESS_KEY nor MESHWORK_TOKEN of its daemon, only the allowlist and its module\'s env', async () => {
    const r = await submit(hostile, { mode: 'env', tasks: 3 })
    expect(r.code, r.stderr).toBe(0)
    expectNoSecret(r.stdout + r.stderr, 'submit\'s output')
    const dataDirs = m().nodes.map(n => n.dataDir)
    for (const { env } of r.out!.result as Array<{ env: Record<string, string> }>) {
      expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined()
      expect(env.MESHWORK_TOKEN).toBeUndefined()
      expect(env.FOO).toBe('bar')
      expect(dataDirs.some(d => env.HOME?.startsWith(join(d, 'scratch') + '/'))).toBe(true)
      const unexpected = Object.keys(env).filter(k => !['PATH', 'LANG', 'TZ', 'HOME', 'PWD', 'FOO'].includes(k) && !k.startsWith('MESHWORK_EXECUTOR_'))
      expect(unexpected).toEqual([])
    }
  })
})

describe('7. the network', () => {
  const p2pPort = (i: number): number => Number(/\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(m().nodes[i]!.addrs.join(' '))?.[1])
  const localTargets = (): Array<{ host: string, port: number }> => [
    ...[0, 1, 2].flatMap(i => [{ host: '127.0.0.1', port: Number(new URL(api(i)).port) }, { host: '127.0.0.1', port: p2pPort(i) }]),
    { host: '127.0.0.1', port: serverPort },
    { host: '1.1.1.1', port: 53 },
  ]
  const NO_ROUTE = /^(ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|EACCES|EPERM|timeout)$/

  it('by default a task reaches neither its node\'s control API or p2p port on 127.0.0.1, nor a local server, nor DNS', async () => {
    const targets = localTargets()
    // They are all there for a process outside the sandbox.
    for (const t of targets.filter(t => t.host === '127.0.0.1')) {
      await new Promise<void>((resolve, reject) => {
        const s = connect(t.port, t.host, () => { s.end(); resolve() })
        s.on('error', reject)
      })
    }
    const r = await submit(hostile, { mode: 'connect', tasks: 3, targets, names: ['example.com'] })
    expect(r.code, r.stderr).toBe(0)
    for (const report of r.out!.result as Array<{ connections: Record<string, string>, names: Record<string, string> }>) {
      expect(Object.keys(report.connections)).toHaveLength(targets.length)
      for (const [target, outcome] of Object.entries(report.connections)) expect(outcome, target).toMatch(NO_ROUTE)
      expect(report.names['example.com']).not.toMatch(/^resolved/)
    }
  })

  it('a job declaring network: true, with no node started with --allow-network, fails at once saying what is missing', async () => {
    const r = await submit(modules.network, { mode: 'connect', targets: [{ host: '127.0.0.1', port: serverPort }] })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/no live node offers what the job requires: missing network \(nodes started with --allow-network\)/)
    expect(r.ms).toBeLessThan(30_000)
  })

  it('on a node started with --allow-network a network job connects to 127.0.0.1; a job that does not declare it still cannot', async () => {
    await m().startNode(3)
    await waitForFullMesh(m(), 4, 90_000)
    const n3 = m().nodes[3]!.peerId
    await waitFor('node 3 offering the network everywhere', async () => {
      for (const i of [0, 1, 2]) if ((await m().status(i)).peers.find(p => p.peerId === n3)?.network !== true) return false
      return true
    }, 60_000, 100)
    const r = await submit(modules.network, { mode: 'connect', tasks: 3, targets: [{ host: '127.0.0.1', port: serverPort }] })
    expect(r.code, r.stderr).toBe(0)
    expect(Object.keys(r.out!.tasksByPeer)).toEqual([n3])
    for (const report of r.out!.result as Array<{ peerId: string, connections: Record<string, string> }>) {
      expect(report.peerId).toBe(n3)
      expect(report.connections).toEqual({ [`127.0.0.1:${serverPort}`]: 'connected: hello from the test' })
    }
    // The same node, a job that does not declare network: true (it requires node 3's label).
    const closed = await submit(modules.label, { mode: 'connect', tasks: 2, targets: [{ host: '127.0.0.1', port: serverPort }] })
    expect(closed.code, closed.stderr).toBe(0)
    expect(Object.keys(closed.out!.tasksByPeer)).toEqual([n3])
    for (const report of closed.out!.result as Array<{ connections: Record<string, string> }>) {
      expect(report.connections[`127.0.0.1:${serverPort}`]).toMatch(NO_ROUTE)
    }
  })
})

/** /proc/PID/stat: state, CPU ticks and start time (to tell a pid from its reuse); undefined once gone. */
function stat (pid: number): { state: string, ppid: number, ticks: number, start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: f[0]!, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), start: f[19]! }
  } catch {
    return undefined
  }
}

/** Every process under `root` (not itself). */
function descendants (root: number): number[] {
  const parent = new Map<number, number>()
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) { const s = stat(Number(name)); if (s !== undefined) parent.set(Number(name), s.ppid) }
  const out = [root]
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid)
  return out.slice(1)
}

/** Live processes whose command line carries the executor marker and `dir` (an executor of that node's). */
function executorsNaming (dir: string): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let cmdline = ''
    try { cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8') } catch { continue }
    const s = stat(Number(name))
    if (s !== undefined && s.state !== 'Z' && cmdline.split('\0').includes(EXECUTOR_MARKER) && cmdline.includes(dir)) out.push(Number(name))
  }
  return out
}

// Runs last: it kills a daemon.
describe('5. orphaned executors', () => {
  it('after kill -9 of its daemon, none of its executors is left, and none spins meanwhile', async () => {
    const started = await submit(hostile, { mode: 'linger', tasks: 8, ms: 50_000 }, 0, ['--detach'])
    expect(started.code, started.stderr).toBe(0)
    const { jobId, coordinator } = started.out as { jobId: string, coordinator: string }
    try {
      // A node other than node 0 and the job's coordinator running one of its tasks.
      const victim = await waitFor('a worker running a lingering task', async () => {
        for (const node of m().nodes.slice(1)) {
          if (node.peerId === coordinator) continue
          const i = node.index
          const self = (await m().status(i)).peers.find(p => p.peerId === node.peerId)
          if ((self?.runningTasks ?? 0) > 0 && executorsOf(node.pid as number).length > 0) return i
        }
        return undefined
      }, 90_000, 100)
      const node = m().nodes[victim]!
      const daemon = node.pid as number
      // Every process of its executors: bubblewrap, the sandbox's init, Node.
      const tree = executorsOf(daemon).flatMap(e => [e.pid, ...descendants(e.pid)]).flatMap(pid => { const s = stat(pid); return s === undefined ? [] : [{ pid, ...s }] })
      expect(tree.length).toBeGreaterThan(0)
      expect(executorsNaming(node.dataDir).length).toBeGreaterThan(0)
      const exited = new Promise<void>(resolve => node.proc!.once('exit', () => resolve()))
      // The daemon alone, not its process group: what is left is what the sandbox takes down.
      process.kill(daemon, 'SIGKILL')
      await exited
      let cpuTicks = 0
      const last = new Map(tree.map(p => [p.pid, p.ticks]))
      await waitFor(`the executors of node ${victim} (pids ${tree.map(p => p.pid).join(' ')}) to be gone`, () => {
        let left = 0
        for (const p of tree) {
          const now = stat(p.pid)
          if (now === undefined || now.start !== p.start || now.state === 'Z') continue
          left++
          cpuTicks += now.ticks - (last.get(p.pid) ?? now.ticks)
          last.set(p.pid, now.ticks)
        }
        return left === 0 && executorsNaming(node.dataDir).length === 0
      }, 60_000, 50)
      // An orphan on EPIPE used to burn a third of a core each, forever: a few ticks at most here.
      expect(cpuTicks).toBeLessThan(50)
    } finally {
      await runCli(['cancel', jobId, '--api', api(0)], 60_000)
    }
  })
})
