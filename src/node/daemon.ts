import { performance } from 'node:perf_hooks'
import { cpus, platform, arch } from 'node:os'
import { Membership, type MembershipEffect } from '../gossip/membership.js'
import { MEMBERSHIP_TOPIC } from '../gossip/messages.js'
import type { MembershipConfig } from '../gossip/config.js'
import type { LocalMetrics } from '../gossip/state-vector.js'
import { SOFTWARE_VERSION } from '../version.js'
import { ApiServer } from './api-server.js'
import { Connectivity } from './connectivity.js'
import { ensureDataDir, removeApiRecord, writeApiRecord } from './data-dir.js'
import { loadOrCreatePeerKey } from './identity.js'
import { createMeshLibp2p, type MeshLibp2p } from './libp2p.js'
import type { Logger } from './logger.js'
import { HostProbe } from './probe.js'
import { statusView, type StatusView } from './status-view.js'

// The daemon binds the pure cores to libp2p, the OS and the control API.

export interface DaemonOptions {
  dataDir: string
  host: string
  port: number
  apiPort: number
  slots: number
  bootstrap: string[]
  mdns: boolean
  mdnsServiceTag: string
  labels: Record<string, string>
  membership: Partial<MembershipConfig>
  log: Logger
}

const TICK_MS = 100
const PROBE_MS = 1000
const MAINTAIN_MS = 2000

export class Daemon {
  private readonly timers: NodeJS.Timeout[] = []
  private stopping: Promise<void> | undefined
  readonly startedAtMs = Date.now()

  private constructor (
    readonly opts: DaemonOptions,
    readonly node: MeshLibp2p,
    readonly membership: Membership,
    readonly api: ApiServer,
    private readonly probe: HostProbe,
    private readonly connectivity: Connectivity,
    public apiUrl: string,
  ) {}

  static async start (opts: DaemonOptions): Promise<Daemon> {
    ensureDataDir(opts.dataDir)
    const privateKey = await loadOrCreatePeerKey(opts.dataDir)
    const node = await createMeshLibp2p({ privateKey, host: opts.host, port: opts.port, mdns: opts.mdns, mdnsServiceTag: opts.mdnsServiceTag })
    const probe = new HostProbe(opts.dataDir, now())
    const api = new ApiServer({ port: opts.apiPort, bodyBytesMax: 1024 * 1024, log: opts.log })
    let apiUrl: string
    try {
      apiUrl = await api.listen()
    } catch (err) {
      await node.stop()
      throw new Error(`Could not open the control API on 127.0.0.1:${opts.apiPort}: ${(err as Error).message}`)
    }
    // The incarnation starts at the wall-clock start time so a restarted node supersedes its old vectors.
    const membership = new Membership({ peerId: node.peerId.toString(), incarnation: Date.now(), metrics: emptyMetrics(opts) }, opts.membership)
    const connectivity = new Connectivity(node, opts.bootstrap, opts.log)
    const daemon = new Daemon(opts, node, membership, api, probe, connectivity, apiUrl)
    daemon.wire()
    writeApiRecord(opts.dataDir, { url: apiUrl, pid: process.pid, peerId: node.peerId.toString() })
    return daemon
  }

  get peerId (): string { return this.node.peerId.toString() }

  status (): StatusView { return statusView(this.peerId, this.membership.peers()) }

  private wire (): void {
    const pubsub = this.node.services.pubsub
    pubsub.subscribe(MEMBERSHIP_TOPIC)
    pubsub.addEventListener('message', evt => {
      const msg = evt.detail
      if (msg.topic !== MEMBERSHIP_TOPIC) return
      // StrictSign: unsigned messages never reach us, `from` is the verified origin.
      if (msg.type !== 'signed') return
      this.apply(this.membership.step({ type: 'message', from: msg.from.toString(), data: msg.data }, now()))
    })
    this.api.route('GET', '/status', () => this.status())
    this.refreshMetrics()
    this.every(TICK_MS, () => this.apply(this.membership.step({ type: 'tick' }, now())))
    this.every(PROBE_MS, () => this.refreshMetrics())
    this.every(MAINTAIN_MS, () => this.maintainConnections())
    this.maintainConnections()
  }

  private every (ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      try { fn() } catch (err) { this.opts.log.error({ err }, 'periodic task failed') }
    }, ms)
    this.timers.push(timer)
  }

  private refreshMetrics (): void {
    const host = this.probe.sample(now())
    const metrics: LocalMetrics = {
      ...emptyMetrics(this.opts),
      ...host,
      addrs: this.node.getMultiaddrs().map(a => a.toString()),
      uptimeMs: Date.now() - this.startedAtMs,
      apiUrl: this.apiUrl,
    }
    this.apply(this.membership.step({ type: 'metrics', metrics }, now()))
  }

  private maintainConnections (): void {
    const alive = this.membership.peers().slice(1)
      .filter(p => p.status === 'alive' || p.status === 'suspect')
      .map(p => ({ peerId: p.vector.peerId, addrs: p.vector.addrs }))
    this.connectivity.maintain(alive)
  }

  private apply (effects: MembershipEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'publish':
          this.node.services.pubsub.publish(MEMBERSHIP_TOPIC, effect.data)
            .catch((err: Error) => this.opts.log.debug({ err: err.message }, 'publish failed'))
          break
        case 'peerStatus':
          this.opts.log.info({ peer: effect.peerId, status: effect.status, previous: effect.previous }, 'peer status')
          break
        case 'dropped':
          this.opts.log.warn({ from: effect.from, reason: effect.reason }, 'dropped gossip message')
          break
        case 'refuted':
          this.opts.log.info({ incarnation: effect.incarnation }, 'refuted a suspicion of this node')
          break
      }
    }
  }

  /** Announce that we leave, then stop everything. Safe to call twice. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t)
      this.apply(this.membership.step({ type: 'leave' }, now()))
      // Give the leave message a moment to reach the wire before the connections close.
      await new Promise(resolve => setTimeout(resolve, 300))
      await this.api.close()
      await this.node.stop()
      removeApiRecord(this.opts.dataDir)
    })()
    return await this.stopping
  }
}

function now (): number { return performance.now() }

function emptyMetrics (opts: DaemonOptions): LocalMetrics {
  return {
    addrs: [], cpuCores: cpus().length, cpuLoad: 0, memFree: 0, memTotal: 0, diskFree: 0, ioLoad: 0,
    slotsTotal: opts.slots, slotsFree: opts.slots, runningTasks: 0, uptimeMs: 0, softwareVersion: SOFTWARE_VERSION,
    ownerCpuLoad: 0, accepting: true, labels: opts.labels, tools: [], os: platform(), arch: arch(), nodeVersion: process.version,
  }
}
