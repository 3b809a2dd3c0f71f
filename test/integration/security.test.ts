import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { homedir, networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// Admission and the executor box with real node processes on 127.0.0.1.
//   mesh:     nodes 0 and 1 share a mesh key. Node 0 coordinates every job (fixed election) and
//             lets only itself submit (--allow-submit); node 1 would let both.
//   outsider: a node with a different mesh key, bootstrapping from node 0.

const escape = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'escape.mjs')
const buildFarm = join(import.meta.dirname, '..', '..', 'examples', 'build-farm.mjs')
let base: string
let work: string
let mesh: LocalMesh
let outsider: LocalMesh | undefined
const ids: string[] = []

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const withoutToken = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.MESHWORK_TOKEN
  delete env.MESHWORK_MESH_KEY
  return env
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'meshwork-security-'))
  work = join(base, 'work')
  mkdirSync(work)
  // Peer keys made here, so the allowlist can name the nodes before they start.
  for (let i = 0; i < 2; i++) {
    const key = await generateKeyPair('Ed25519')
    mkdirSync(join(base, 'mesh', `node-${i}`), { recursive: true })
    writeFileSync(join(base, 'mesh', `node-${i}`, 'peer.key'), privateKeyToProtobuf(key), { mode: 0o600 })
    ids.push(peerIdFromPrivateKey(key).toString())
  }
  mesh = new LocalMesh({
    nodes: 2,
    baseDir: join(base, 'mesh'),
    args: i => [
      '--slots', '2', '--election', `fixed:${ids[0]}`, '--allow-submit', i === 0 ? ids[0]! : `${ids[0]},${ids[1]}`,
      '--max-tasks-per-job', '20', '--max-result-bytes', '100000', '--allow-fs-read', work,
    ],
  })
  try {
    await mesh.startNode(0)
    await mesh.startNode(1)
  } catch (err) {
    await mesh.stop()
    throw err
  }
  await waitForFullMesh(mesh, 2, 60_000)
})

afterAll(async () => {
  await outsider?.stop()
  await mesh?.stop()
  rmSync(base, { recursive: true, force: true })
})

describe('the mesh key', () => {
  it('meshwork init writes a 0600 key and says how to copy it; a second init refuses to overwrite', async () => {
    const dir = join(base, 'init')
    const r = await runCli(['init', '--data-dir', dir], 60_000, withoutToken())
    expect(r.code).toBe(0)
    expect(statSync(join(dir, 'mesh.key')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'mesh.key'), 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    expect(r.stdout).toMatch(/scp .*mesh\.key/)
    expect(r.stdout).toMatch(/--mesh-key FILE/)
    const again = await runCli(['init', '--data-dir', dir], 60_000, withoutToken())
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/already exists.*--force/)
  })

  it('a node with no key refuses to start and says what to run', async () => {
    const dir = join(base, 'nokey')
    const r = await runCli(['start', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--api-port', '0', '--no-mdns'], 60_000, withoutToken())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no mesh key/)
    expect(r.stderr).toContain(`meshwork init --data-dir ${dir}`)
    expect(r.stderr).toMatch(/--mesh-key FILE/)
    expect(r.stderr).toMatch(/--insecure-open-mesh/)
    expect(existsSync(join(dir, 'api.json'))).toBe(false)
  })

  it('a key readable by other users is refused', async () => {
    const dir = join(base, 'init')
    chmodSync(join(dir, 'mesh.key'), 0o644)
    const r = await runCli(['start', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--api-port', '0', '--no-mdns'], 60_000, withoutToken())
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/readable by other users: run `chmod 600/)
  })

  it('a node with a different key cannot join the mesh, and what it is given to run stays with it', async () => {
    outsider = await LocalMesh.start({ nodes: 1, baseDir: join(base, 'outsider'), logLevel: 'debug', args: ['--bootstrap', mesh.bootstrapAddr()] })
    const outsiderId = outsider.nodes[0]!.peerId
    const log = join(outsider.nodes[0]!.dataDir, 'node.log')
    // It keeps trying: the bootstrap dial fails at the private-network handshake, again and again.
    await waitFor('the outsider to fail dialling node 0 three times', () =>
      (readFileSync(log, 'utf8').match(new RegExp(`"peer":"${ids[0]}".*dial failed`, 'g')) ?? []).length >= 3)
    const inside = await mesh.status(0)
    expect(inside.peers.map(p => p.peerId)).not.toContain(outsiderId)
    expect((await mesh.status(1)).peers.map(p => p.peerId)).not.toContain(outsiderId)
    const view = await outsider.status(0)
    expect(view.peers.map(p => p.peerId)).toEqual([outsiderId])
    // A job submitted there runs there alone; the mesh never hears of it.
    const out = await submitJson(outsider.nodes[0]!.apiUrl, [escape, '--input-json', '{"mode":"none","n":3}'])
    expect(out.result).toBe(3)
    expect(Object.keys(out.tasksByPeer)).toEqual([outsiderId])
    const res = await mesh.fetch(0, `/jobs/${out.jobId}`)
    expect(res.status).toBe(404)
    expect(mesh.nodes[0]!.proc?.exitCode).toBeNull()
  })
})

describe('the control API', () => {
  it('refuses a request without the token, or with a wrong one (401), and takes the right one', async () => {
    const none = await fetch(`${api(0)}/status`)
    expect(none.status).toBe(401)
    expect((await none.json() as { error: string }).error).toMatch(/API token/)
    const wrong = await fetch(`${api(0)}/jobs`, { headers: { authorization: 'Bearer not-the-token-at-all' } })
    expect(wrong.status).toBe(401)
    const post = await fetch(`${api(0)}/jobs`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(post.status).toBe(401)
    expect((await mesh.fetch(0, '/status')).status).toBe(200)
    // Only the Authorization header counts (test/integration/api-hardening.test.ts has the rest).
    expect((await fetch(`${api(0)}/status?token=${mesh.token}`)).status).toBe(401)
    expect((await fetch(`${api(0)}/status`, { headers: { cookie: `other=1; meshwork_token=${mesh.token}` } })).status).toBe(401)
  })

  it('the CLI without a token is told how to get one; with the data dir it reads the token itself', async () => {
    const refused = await runCli(['status', '--api', api(0)], 60_000, withoutToken())
    expect(refused.code).toBe(4) // no node to talk to: the token is missing
    expect(refused.stderr).toMatch(/^meshwork: the node at .* needs its API token.*--data-dir DIR.*MESHWORK_TOKEN/s)
    expect(refused.stderr).not.toMatch(/401|GET \/status/)
    const local = await runCli(['status', '--data-dir', mesh.nodes[0]!.dataDir, '--json'], 60_000, withoutToken())
    expect(local.code).toBe(0)
    expect(JSON.parse(local.stdout).self).toBe(ids[0])
    expect(statSync(join(mesh.nodes[0]!.dataDir, 'api.token')).mode & 0o777).toBe(0o600)
  })

  it('listens on 127.0.0.1 only: another address of this machine cannot reach it', async () => {
    const port = Number(new URL(api(0)).port)
    const others = ['127.0.0.2', ...Object.values(networkInterfaces()).flat().filter(a => a !== undefined && a.family === 'IPv4' && !a.internal).map(a => a!.address)]
    for (const host of others) {
      const outcome = await new Promise<string>(resolve => {
        const socket = connect({ host, port, timeout: 10_000 })
        socket.once('connect', () => { socket.destroy(); resolve('connected') })
        socket.once('timeout', () => { socket.destroy(); resolve('timeout') })
        socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
      })
      expect(outcome, `connecting to ${host}:${port}`).not.toBe('connected')
    }
  })
})

describe('who may submit', () => {
  it('a node outside the coordinator\'s --allow-submit list is refused with a clear error', async () => {
    const r = await runCli(['submit', escape, '--input-json', '{"mode":"none"}', '--api', api(1)])
    expect(r.code).toBe(5) // refused by the node
    expect(r.stderr).toMatch(new RegExp(`^meshwork: .*refused the job: peer ${ids[1]} is not allowed to submit jobs \\(--allow-submit\\)`))
    expect(r.stderr).not.toMatch(/403|POST \/jobs/)
    const ok = await submitJson(api(0), [escape, '--input-json', '{"mode":"none","n":2}'])
    expect(ok.result).toBe(2)
  })
})

describe('executors in a box', () => {
  const denied: Array<[string, () => object, RegExp]> = [
    ['reads ~/.ssh', () => ({ mode: 'read-ssh', path: join(homedir(), '.ssh') }), new RegExp(`denied: permission denied: FileSystemRead of ${homedir()}/\\.ssh`)],
    ['writes outside its scratch dir', () => ({ mode: 'write-outside', path: join(tmpdir(), 'meshwork-escaped.txt') }), /denied: permission denied: FileSystemWrite of .*meshwork-escaped\.txt/],
    ['writes into a dir the node lets it read', () => ({ mode: 'write-outside', path: join(work, 'escaped.txt') }), /denied: permission denied: FileSystemWrite of .*escaped\.txt/],
    ['spawns a process', () => ({ mode: 'spawn' }), /denied: permission denied: ChildProcess .*--allow-exec/],
  ]
  for (const [what, input, error] of denied) {
    it(`a task that ${what} is denied and the job fails naming the permission`, async () => {
      const r = await runCli(['submit', escape, '--input-json', JSON.stringify(input()), '--api', api(0)])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(error)
      expect(existsSync(join(tmpdir(), 'meshwork-escaped.txt'))).toBe(false)
    })
  }

  it('a task may write its own scratch dir', async () => {
    const out = await submitJson(api(0), [escape, '--input-json', '{"mode":"scratch","n":4}'])
    expect(out.result).toBe(4)
  })

  it('the build farm needs --allow-exec cc: without it no node offers cc and the job is refused, saying so', async () => {
    const project = join(work, 'project.json')
    writeFileSync(project, JSON.stringify({ files: { 'a.c': 'int a(void) { return 1; }\n' } }))
    const r = await runCli(['submit', buildFarm, '--input', project, '--api', api(0)])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/missing tools\.cc/)
    expect(r.stderr).toMatch(/--allow-exec/)
  })
})

describe('limits on what a node accepts', () => {
  it('a job splitting into more tasks than --max-tasks-per-job fails with a clear error', async () => {
    const r = await runCli(['submit', escape, '--input-json', '{"mode":"none","n":21}', '--api', api(0)])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/split returned 21 chunks; this mesh allows at most 20 tasks per job \(--max-tasks-per-job\)/)
  })

  it('a result over --max-result-bytes fails its task with a clear error, and the node keeps serving', async () => {
    const r = await runCli(['submit', escape, '--input-json', '{"mode":"big","bytes":200000}', '--api', api(0)])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/too-large: (map\(\) )?result of 200002 bytes exceeds the node's limit of 100000 bytes \(--max-result-bytes\)/)
    const ok = await submitJson(api(0), [escape, '--input-json', '{"mode":"big","bytes":1000}'])
    expect(ok.result).toHaveLength(1000)
    for (const n of mesh.nodes) expect(n.proc?.exitCode).toBeNull()
  })
})
