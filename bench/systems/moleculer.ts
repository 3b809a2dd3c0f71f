import { join } from 'node:path'
import type moleculer from 'moleculer'
import { freePort, spawnGroup, waitForReady, type Spawned } from '../lib/procs.js'
import { createBroker, type MoleculerNodeConfig } from './moleculer-broker.js'
import type { Baseline } from './types.js'

// Moleculer 0.14 with its TCP transporter: `nodes` broker processes each offering `bench.map`,
// and a caller broker (no services) in the benchmark process that submits the tasks, with the
// CpuUsage strategy. All on 127.0.0.1, discovery by a static URL list.

export const MOLECULER_MAX_PACKET_BYTES = 256 * 1024 * 1024

export async function startMoleculer (opts: { distBench: string, nodes: number, runId: string, logDir: string, env: NodeJS.ProcessEnv, strategy?: string }): Promise<Baseline> {
  const strategy = opts.strategy ?? 'CpuUsage'
  const namespace = `mwbench-${opts.runId}`
  const ports = await Promise.all(Array.from({ length: opts.nodes + 1 }, async () => await freePort()))
  const ids = Array.from({ length: opts.nodes }, (_, i) => `worker-${i}`)
  const callerId = 'caller'
  const urls = [...ids.map((id, i) => `127.0.0.1:${ports[i]}/${id}`), `127.0.0.1:${ports[opts.nodes]}/${callerId}`]
  const children: Spawned[] = []
  let caller: moleculer.ServiceBroker | undefined
  const stop = async (): Promise<void> => {
    await caller?.stop().catch(() => {})
    await Promise.all(children.map(async c => { try { c.proc.send?.('stop') } catch { /* gone */ } await c.stop(5000) }))
  }
  try {
    for (let i = 0; i < opts.nodes; i++) {
      const config: MoleculerNodeConfig = { nodeID: ids[i] as string, namespace, port: ports[i] as number, urls, strategy, service: true, maxPacketSize: MOLECULER_MAX_PACKET_BYTES }
      children.push(spawnGroup(process.execPath, [join(opts.distBench, 'systems', 'moleculer-node.js'), JSON.stringify(config)], { ipc: true, env: opts.env, logFile: join(opts.logDir, `moleculer-${ids[i]}.log`) }))
    }
    await Promise.all(children.map(async (c, i) => await waitForReady(c, `moleculer node ${i}`)))
    caller = createBroker({ nodeID: callerId, namespace, port: ports[opts.nodes] as number, urls, strategy, service: false, maxPacketSize: MOLECULER_MAX_PACKET_BYTES })
    await caller.start()
    // Every worker node known and offering bench.map to the caller.
    const deadline = Date.now() + 60_000
    const broker = caller
    const available = (): number => (broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true, withActions: false }) as Array<{ name: string, nodeID: string }>)
      .filter(s => s.name === 'bench').length
    while (available() < opts.nodes) {
      if (Date.now() > deadline) throw new Error(`moleculer: only ${available()} of ${opts.nodes} nodes offer bench.map after 60 s`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    // One call to each node, one at a time, so that every caller→node and node→caller TCP
    // connection exists before a burst: Moleculer 0.14's TcpWriter opens a new connection for
    // every packet sent to a node it has no socket for yet, and when the surplus sockets close
    // it marks the node disconnected and rejects every pending request to it
    // (RequestRejectedError) — seen here with 5 nodes and 20,000 calls issued at once.
    for (const nodeID of ids) await broker.call('bench.map', { kind: 'empty', chunk: 0 }, { nodeID })
  } catch (err) {
    await stop()
    throw err
  }
  const broker = caller
  return {
    id: `moleculer-${opts.nodes}`,
    dispatch: async (kind, chunk) => await broker.call('bench.map', { kind, chunk }),
    stop,
  }
}
