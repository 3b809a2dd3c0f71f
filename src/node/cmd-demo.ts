import { formatStatus } from './cmd-status.js'
import { LocalMesh } from './local-mesh.js'
import type { StatusView } from './status-view.js'

// `meshwork demo` (what `npm start` runs): a local mesh of real node processes on 127.0.0.1.

export async function demoCommand (opts: { nodes: number }): Promise<void> {
  const started = Date.now()
  process.stdout.write(`Starting a local mesh of ${opts.nodes} nodes on 127.0.0.1 …\n`)
  const mesh = await LocalMesh.start({ nodes: opts.nodes, logLevel: 'warn' })
  const stopOnSignal = (): void => { void mesh.stop().then(() => process.exit(130)) }
  process.once('SIGINT', stopOnSignal)
  try {
    const view = await waitForFullMesh(mesh, opts.nodes, 60_000)
    process.stdout.write(`All ${opts.nodes} nodes see each other after ${Date.now() - started} ms:\n\n${formatStatus(view)}\n\n`)
  } finally {
    process.stdout.write('Stopping the mesh …\n')
    await mesh.stop()
    process.off('SIGINT', stopOnSignal)
  }
}

export async function waitForFullMesh (mesh: LocalMesh, n: number, timeoutMs: number): Promise<StatusView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const views = await Promise.all(mesh.nodes.map(async (_, i) => await mesh.status(i)))
    if (views.every(v => v.peers.filter(p => p.status === 'alive').length === n)) return views[0] as StatusView
    if (Date.now() > deadline) throw new Error(`the mesh did not converge to ${n} alive nodes within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
