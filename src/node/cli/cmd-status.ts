import { MeshClient, type ClientOptions } from './client.js'
import { bytes, colour, percent, shortId, table } from './format.js'
import type { StatusView } from './status-view.js'
import { terminalSafe } from './terminal-text.js'

const STATUS_COLOUR: Record<string, number> = { alive: 32, suspect: 33, dead: 31, left: 90 }

export async function statusCommand (opts: ClientOptions & { json?: boolean }): Promise<void> {
  const view = await MeshClient.fromOptions(opts).get<StatusView>('/status')
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(view) + '\n')
    return
  }
  process.stdout.write(formatStatus(view) + '\n')
}

export function formatStatus (view: StatusView): string {
  const rows = view.peers.map(p => [
    shortId(p.peerId) + (p.peerId === view.self ? ' (self)' : ''),
    terminalSafe(p.name ?? '-'),
    colour(STATUS_COLOUR[p.status] ?? 0, terminalSafe(p.status)) + (p.status !== 'alive' || p.accepting ? '' : colour(33, p.draining === true ? ' draining' : ' yielding')),
    percent(p.cpuLoad),
    percent(p.ownerCpuLoad),
    `${bytes(p.memFree)} / ${bytes(p.memTotal)}`,
    bytes(p.diskFree),
    `${p.slotsFree}/${p.slotsTotal}`,
    String(p.runningTasks),
  ])
  const alive = view.peers.filter(p => p.status === 'alive').length
  const yielding = view.peers.filter(p => p.status === 'alive' && !p.accepting).length
  return `${table(['NODE', 'NAME', 'STATUS', 'CPU', 'OWNER', 'MEM FREE', 'DISK FREE', 'SLOTS', 'TASKS'], rows)}\n${alive}/${view.peers.length} nodes alive${yielding > 0 ? `, ${yielding} not accepting tasks (yielding to their owner or draining)` : ''}`
}
