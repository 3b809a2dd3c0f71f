import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import moleculer from 'moleculer'

// A Moleculer 0.14 broker for the benchmark: TCP transporter with UDP discovery off and a static
// list of 127.0.0.1 URLs; the TCP server is bound to 127.0.0.1 (Moleculer binds every interface
// unless patched, below) and the node advertises 127.0.0.1 as its only address, so nothing
// leaves the loopback interface.

export interface MoleculerNodeConfig {
  nodeID: string
  namespace: string
  port: number
  urls: string[]
  strategy: string
  /** false: a caller only (no service). */
  service: boolean
  maxPacketSize: number
}

const require = createRequire(import.meta.url)
const moleculerDir = dirname(require.resolve('moleculer'))

interface TcpReaderLike {
  Promise: PromiseConstructor
  opts: { port: number }
  server: ReturnType<typeof createServer>
  connected: boolean
  logger: { error: (...a: unknown[]) => void }
  onTcpClientConnected: (socket: unknown) => void
}

/** Moleculer's TcpReader.listen, bound to 127.0.0.1 instead of every interface. */
export function bindTcpToLoopback (): void {
  const TcpReader = require(join(moleculerDir, 'src', 'transporters', 'tcp', 'tcp-reader.js')) as { prototype: { listen: () => Promise<number> } }
  TcpReader.prototype.listen = function (this: TcpReaderLike): Promise<number> {
    return new this.Promise((resolve, reject) => {
      const server = createServer(socket => this.onTcpClientConnected(socket))
      let settled = false
      server.on('error', err => { this.logger.error('Server error.', err); if (!settled) { settled = true; reject(err) } })
      server.listen({ port: this.opts.port, host: '127.0.0.1', exclusive: true }, () => {
        const address = server.address()
        this.opts.port = typeof address === 'object' && address !== null ? address.port : this.opts.port
        this.connected = true
        settled = true
        resolve(this.opts.port)
      })
      this.server = server
    })
  }
}

export function createBroker (config: MoleculerNodeConfig): moleculer.ServiceBroker {
  bindTcpToLoopback()
  const broker = new moleculer.ServiceBroker({
    nodeID: config.nodeID,
    namespace: config.namespace,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, port: config.port, urls: config.urls, useHostname: false, maxPacketSize: config.maxPacketSize },
    },
    registry: { strategy: config.strategy, preferLocal: false },
    logger: { type: 'Console', options: { level: 'warn' } },
    requestTimeout: 0,
    metrics: false,
    tracing: false,
  })
  // The address this node gives its peers: 127.0.0.1 only (not the hostname or an external IPv4).
  const local = (broker.registry as unknown as { nodes: { localNode: { ipList: string[], hostname: string } } }).nodes.localNode
  local.ipList = ['127.0.0.1']
  local.hostname = '127.0.0.1'
  return broker
}
