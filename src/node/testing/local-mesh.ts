import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../../package-root.js'
import { readApiRecord } from '../host/data-dir.js'
import { API_TOKEN_ENV, API_TOKEN_FILE } from '../../security/api-token.js'
import { createMeshKeyFile, MESH_KEY_FILE } from '../../security/mesh-key.js'
import type { StatusView } from '../cli/status-view.js'

// Starts real `meshwork start` processes on 127.0.0.1: the demo, the integration tests,
// the benchmarks and the chaos suite all use this one launcher. Each node runs
// `node bin/meshwork.js` directly (not through npx, whose wrapper survives kill -9) in its
// own process group, and logs to files in its data dir.

export const BIN_PATH = join(packageRoot(), 'bin', 'meshwork.js')

export interface LocalMeshOptions {
  nodes: number
  /** Extra `meshwork start` arguments for every node, or per node index. */
  args?: string[] | ((index: number) => string[])
  /** Defaults that suit tests on a busy machine: fast gossip, quick detection. */
  fastTimers?: boolean
  baseDir?: string
  logLevel?: string
  env?: NodeJS.ProcessEnv
  readyTimeoutMs?: number
  /**
   * Owner policy of every node (default dedicated: local meshes, tests and benchmarks share one
   * machine whose other load is not an owner to yield to). `args` may still pass --policy.
   */
  policy?: 'desktop' | 'dedicated'
  /**
   * The mesh key every node gets (--mesh-key): default a new key made for this mesh in its
   * base dir; `false` passes none (give --mesh-key or --insecure-open-mesh in `args`).
   */
  meshKeyFile?: string | false
  /** The control-API token of every node (default $MESHWORK_TOKEN, else a new one). */
  token?: string
  /** Where the nodes run; on 127.0.0.1 of this machine when omitted. */
  launcher?: NodeLauncher
}

/**
 * Runs each node somewhere other than this machine's loopback, e.g. in its own network
 * namespace (chaos/netns-launcher.ts), so the network between nodes can be cut.
 */
export interface NodeLauncher {
  /** The address node `index` listens on (and the others reach it at). */
  host: (index: number) => string
  /** Wrap the node's command line (e.g. in `ip netns exec NS`); must exec in place, keeping the pid. */
  command: (index: number, cmd: string, args: string[]) => [string, string[]]
  /** A control-API URL reachable from this process, stable across restarts of node `index`. */
  exposeApi?: (index: number, dataDir: string) => Promise<string>
  close: () => Promise<void>
}

export interface LocalNode {
  index: number
  dataDir: string
  proc: ChildProcess | undefined
  pid: number | undefined
  apiUrl: string
  peerId: string
  addrs: string[]
}

export class LocalMesh {
  readonly nodes: LocalNode[] = []
  readonly baseDir: string
  /** The mesh key file given to every node, if any. */
  readonly meshKeyFile: string | undefined
  /** Every node's control-API token. */
  readonly token: string
  private readonly ownsBaseDir: boolean

  constructor (readonly opts: LocalMeshOptions) {
    this.ownsBaseDir = opts.baseDir === undefined
    this.baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'meshwork-mesh-'))
    mkdirSync(this.baseDir, { recursive: true })
    this.token = opts.token ?? (process.env[API_TOKEN_ENV] !== undefined && process.env[API_TOKEN_ENV] !== '' ? process.env[API_TOKEN_ENV] : randomBytes(24).toString('hex'))
    if (opts.meshKeyFile === undefined) {
      this.meshKeyFile = join(this.baseDir, MESH_KEY_FILE)
      createMeshKeyFile(this.meshKeyFile, { force: true })
    } else {
      this.meshKeyFile = opts.meshKeyFile === false ? undefined : opts.meshKeyFile
    }
  }

  /** fetch() a node's control API with the mesh's token. */
  async fetch (index: number, path: string, init: RequestInit = {}): Promise<Response> {
    const node = this.nodes[index]
    if (node === undefined) throw new Error(`no node ${index}`)
    return await fetch(`${node.apiUrl}${path}`, { ...init, headers: { ...this.authHeaders(), ...(init.headers as Record<string, string> | undefined) } })
  }

  authHeaders (): Record<string, string> { return { authorization: `Bearer ${this.token}` } }

  static async start (opts: LocalMeshOptions): Promise<LocalMesh> {
    const mesh = new LocalMesh(opts)
    try {
      await mesh.startNode(0)
      await Promise.all(Array.from({ length: opts.nodes - 1 }, async (_, i) => await mesh.startNode(i + 1)))
    } catch (err) {
      await mesh.stop()
      throw err
    }
    return mesh
  }

  /** The first node's address: every other node bootstraps from it. */
  bootstrapAddr (): string {
    const first = this.nodes[0]
    const addr = first?.addrs.find(a => a.includes(`/ip4/${this.hostOf(0)}/`))
    if (addr === undefined) throw new Error(`node 0 has no ${this.hostOf(0)} address yet`)
    return addr
  }

  argsFor (index: number): string[] {
    const extra = typeof this.opts.args === 'function' ? this.opts.args(index) : (this.opts.args ?? [])
    const timers = this.opts.fastTimers === false ? [] : ['--publish-interval-ms', '250', '--suspect-after-ms', '1500', '--dead-after-ms', '3000']
    const bootstrap = index === 0 && this.nodes[0] === undefined ? [] : ['--bootstrap', this.bootstrapAddr()]
    const key = this.meshKeyFile !== undefined ? ['--mesh-key', this.meshKeyFile] : []
    // Named by index: on one machine every node would otherwise carry the same hostname.
    return ['--name', `node-${index}`, '--host', this.hostOf(index), '--port', String(this.fixedPort(index)), '--api-port', '0', '--no-mdns', '--policy', this.opts.policy ?? 'dedicated', ...key, ...timers, ...bootstrap, ...extra]
  }

  /** Node 0 keeps its p2p port across restarts, so the others' bootstrap address stays valid. */
  private fixedPort (index: number): number {
    if (index !== 0) return 0
    const known = this.nodes[0]?.addrs.find(a => a.includes(`/ip4/${this.hostOf(0)}/`))
    return known === undefined ? 0 : Number(/\/tcp\/(\d+)/.exec(known)?.[1] ?? 0)
  }

  private hostOf (index: number): string {
    return this.opts.launcher?.host(index) ?? '127.0.0.1'
  }

  async startNode (index: number): Promise<LocalNode> {
    const dataDir = join(this.baseDir, `node-${index}`)
    mkdirSync(dataDir, { recursive: true })
    rmSync(join(dataDir, 'api.json'), { force: true })
    writeFileSync(join(dataDir, API_TOKEN_FILE), this.token + '\n', { mode: 0o600 })
    const out = openSync(join(dataDir, 'node.log'), 'a')
    const args = [BIN_PATH, 'start', '--data-dir', dataDir, '--log-level', this.opts.logLevel ?? process.env.MESHWORK_MESH_LOG_LEVEL ?? 'info', ...this.argsFor(index)]
    const [cmd, cmdArgs] = this.opts.launcher?.command(index, process.execPath, args) ?? [process.execPath, args]
    const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', out, out], detached: true, env: { ...process.env, ...this.opts.env } })
    closeSync(out)
    const node: LocalNode = { index, dataDir, proc, pid: proc.pid, apiUrl: '', peerId: '', addrs: [] }
    this.nodes[index] = node
    const exited = new Promise<never>((_, reject) => proc.once('exit', code => reject(new Error(`node ${index} exited with ${code} before it was ready; see ${join(dataDir, 'node.log')}`))))
    exited.catch(() => {})
    await Promise.race([this.waitReady(node), exited])
    return node
  }

  private async waitReady (node: LocalNode): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 60_000)
    const exposed = await this.opts.launcher?.exposeApi?.(node.index, node.dataDir)
    while (Date.now() < deadline) {
      const record = readApiRecord(node.dataDir)
      if (record !== undefined && record.pid === node.pid) {
        const url = exposed ?? record.url
        try {
          const view = await (await fetch(`${url}/status`, { headers: this.authHeaders() })).json() as StatusView
          const self = view.peers.find(p => p.peerId === view.self)
          if (self !== undefined && self.addrs.length > 0) {
            Object.assign(node, { apiUrl: url, peerId: view.self, addrs: self.addrs })
            return
          }
        } catch { /* not listening yet */ }
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`node ${node.index} not ready in time; see ${join(node.dataDir, 'node.log')}`)
  }

  async status (index: number): Promise<StatusView> {
    const node = this.nodes[index]
    if (node === undefined) throw new Error(`no node ${index}`)
    return await (await this.fetch(index, '/status')).json() as StatusView
  }

  /** Send a signal to a node's whole process group. */
  signal (index: number, signal: NodeJS.Signals): void {
    const pid = this.nodes[index]?.pid
    if (pid === undefined) return
    try { process.kill(-pid, signal) } catch { /* already gone */ }
  }

  async kill (index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.nodes[index]
    const proc = node?.proc
    if (node === undefined || proc === undefined) return
    const gone = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>(resolve => proc.once('exit', () => resolve()))
    this.signal(index, signal)
    await gone
    node.proc = undefined
    node.pid = undefined
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async (node, i) => {
      if (node?.proc === undefined) return
      const graceful = this.kill(i, 'SIGTERM')
      const timeout = setTimeout(() => this.signal(i, 'SIGKILL'), 5000)
      await graceful
      clearTimeout(timeout)
    }))
    await this.opts.launcher?.close()
    if (this.ownsBaseDir && process.env.MESHWORK_KEEP_MESH_DIR === undefined) rmSync(this.baseDir, { recursive: true, force: true })
  }
}

/** Waits until every node of the mesh sees `n` alive nodes; the first node's view. */
export async function waitForFullMesh (mesh: LocalMesh, n: number, timeoutMs: number): Promise<StatusView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const views = await Promise.all(mesh.nodes.map(async (_, i) => await mesh.status(i)))
    if (views.every(v => v.peers.filter(p => p.status === 'alive').length === n)) return views[0] as StatusView
    if (Date.now() > deadline) throw new Error(`the mesh did not converge to ${n} alive nodes within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
