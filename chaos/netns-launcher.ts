import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { existsSync, rmSync } from 'node:fs'
import type { NodeLauncher } from '../src/node/testing/local-mesh.js'
import { packageRoot } from '../src/package-root.js'
import type { Network } from './netns.js'

// Runs LocalMesh nodes one per network namespace of a Network (chaos/netns.ts), so the chaos
// suite and the partition tests can cut the network between them. Each node's control API
// stays on its namespace's 127.0.0.1; this process reaches it through a forwarder in the
// namespace (chaos/api-forwarder.ts) behind a Unix socket, re-exposed here on 127.0.0.1.

const FORWARDER = join(packageRoot(), 'dist', 'chaos', 'api-forwarder.js')

export function netnsLauncher (network: Network): NodeLauncher & { partition: (groups: number[][]) => Promise<void> } {
  const exposed = new Map<number, { url: string, server: Server, forwarder: ChildProcess, socketPath: string }>()
  const host = (index: number): Network['hosts'][number] => {
    const h = network.hosts[index]
    if (h === undefined) throw new Error(`the network has no host for node ${index}`)
    return h
  }

  return {
    host: index => host(index).ip,
    command: (index, cmd, args) => ['ip', ['netns', 'exec', host(index).ns, cmd, ...args]],
    exposeApi: async (index, dataDir) => {
      const known = exposed.get(index)
      if (known !== undefined) return known.url
      const socketPath = join(tmpdir(), `mwfwd-${process.pid}-${network.prefix}-${index}.sock`)
      const forwarder = spawn('ip', ['netns', 'exec', host(index).ns, process.execPath, FORWARDER, socketPath, dataDir], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
      await new Promise<void>((resolve, reject) => {
        forwarder.once('exit', code => reject(new Error(`the API forwarder for node ${index} exited with ${code}`)))
        forwarder.stdout?.once('data', () => resolve())
      })
      const server = createServer(client => {
        const upstream = connect({ path: socketPath })
        client.pipe(upstream).pipe(client)
        const close = (): void => { client.destroy(); upstream.destroy() }
        client.on('error', close)
        upstream.on('error', close)
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
      const address = server.address()
      const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
      exposed.set(index, { url, server, forwarder, socketPath })
      return url
    },
    /** Cut every link between nodes of different groups (unicast dropped both ways). */
    partition: async (groups) => {
      for (const [gi, a] of groups.entries()) {
        for (const b of groups.slice(gi + 1)) {
          for (const x of a) for (const y of b) await network.cut(x, y)
        }
      }
    },
    close: async () => {
      for (const { server, forwarder, socketPath } of exposed.values()) {
        server.close()
        try { process.kill(-(forwarder.pid ?? 0), 'SIGKILL') } catch { /* gone */ }
        if (existsSync(socketPath)) rmSync(socketPath, { force: true })
      }
      exposed.clear()
    },
  }
}
