import { packageRoot } from '../../src/package-root.js'
import { loadModules, type Kind } from '../lib/workloads.js'

// The piscina task: run the job module's map on one chunk.
const modules = await loadModules(packageRoot())

export default function task ({ kind, chunk }: { kind: Kind, chunk: unknown }): unknown {
  return modules[kind].map(chunk, {})
}
