import moleculer from 'moleculer'
import { packageRoot } from '../../src/package-root.js'
import { exitWithParent } from '../lib/procs.js'
import { loadModules, type Kind } from '../lib/workloads.js'
import { createBroker, type MoleculerNodeConfig } from './moleculer-broker.js'

// node dist/bench/systems/moleculer-node.js CONFIG_JSON
// One Moleculer broker process with a `bench.map` action that runs the job module's map.

const config = JSON.parse(process.argv[2] ?? '{}') as MoleculerNodeConfig
const modules = await loadModules(packageRoot())
const broker = createBroker(config)
broker.createService({
  name: 'bench',
  actions: {
    map (ctx: moleculer.Context<{ kind: Kind, chunk: unknown }>) {
      return modules[ctx.params.kind].map(ctx.params.chunk, {})
    },
  },
})
exitWithParent(async () => { await broker.stop() })
try {
  await broker.start()
  process.send?.({ ready: { nodeID: config.nodeID, port: config.port } })
} catch (err) {
  process.send?.({ fatal: (err as Error).message })
  process.exit(1)
}
