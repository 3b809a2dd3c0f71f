import type { Requires } from './job-spec.js'

// Capability matching: does a node offer everything a job `requires`? Pure; used by the
// scheduler (placement), by the control API (refuse an unsatisfiable job at once) and in tests.

/** What a node offers, as its state vector advertises it. */
export interface NodeCaps {
  tools: readonly string[]
  labels: Readonly<Record<string, string>>
  memTotal: number
  cpuCores: number
  /** Tasks of jobs that declare `network: true` may reach the network here (`--allow-network`). */
  network?: boolean
  /** Tasks run here without a sandbox (`--sandbox none`): a task may kill the node (the poison rule counts its death). */
  unboxed?: boolean
}

const MIB = 1024 * 1024

/** The requirements this node lacks, each named (`tools.cc`, `labels.zone=b`, `memoryMB>=4096`, `cpus>=8`, `network …`); empty when it satisfies all. */
export function missingOn (req: Requires | undefined, caps: NodeCaps | undefined): string[] {
  if (req === undefined) return []
  const missing: string[] = []
  for (const tool of req.tools ?? []) if (caps?.tools.includes(tool) !== true) missing.push(`tools.${tool}`)
  for (const [k, v] of Object.entries(req.labels ?? {})) if (caps?.labels[k] !== v) missing.push(`labels.${k}=${v}`)
  if (req.memoryMB !== undefined && req.memoryMB > 0 && !((caps?.memTotal ?? 0) / MIB >= req.memoryMB)) missing.push(`memoryMB>=${req.memoryMB}`)
  if (req.cpus !== undefined && req.cpus > 0 && !((caps?.cpuCores ?? 0) >= req.cpus)) missing.push(`cpus>=${req.cpus}`)
  if (req.network === true && caps?.network !== true) missing.push('network (nodes started with --allow-network)')
  return missing
}

export function satisfies (req: Requires | undefined, caps: NodeCaps | undefined): boolean {
  return missingOn(req, caps).length === 0
}

export function hasRequirements (req: Requires | undefined): boolean {
  return req !== undefined && missingOn(req, undefined).length > 0
}

/**
 * Why no node in `nodes` can run the job, or undefined when one can. Names the requirements
 * no node offers at all; when each is offered somewhere but never all on one node, says so.
 */
export function unsatisfiable (req: Requires | undefined, nodes: ReadonlyArray<NodeCaps>): string | undefined {
  if (!hasRequirements(req)) return undefined
  if (nodes.some(n => satisfies(req, n))) return undefined
  if (nodes.length === 0) return `no live node can run tasks, and the job requires ${missingOn(req, undefined).join(', ')}`
  const perNode = nodes.map(n => new Set(missingOn(req, n)))
  const nowhere = missingOn(req, undefined).filter(m => perNode.every(s => s.has(m)))
  if (nowhere.length > 0) return `no live node offers what the job requires: missing ${nowhere.join(', ')} (on all ${nodes.length} node${nodes.length === 1 ? '' : 's'})`
  return `no single live node offers everything the job requires (${missingOn(req, undefined).join(', ')}); each node lacks part of it`
}
