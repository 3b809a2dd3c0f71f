import { MeshClient, type ClientOptions } from './client.js'
import { bytes, colour, percent, shortId, table } from './format.js'
import { isStale, NO_FIGURE, type StatusView } from './status-view.js'
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
  const rows = view.peers.map(p => {
    // A dead or silent node's last figures are not its current ones: "—", not numbers.
    const fig = (text: string): string => isStale(p) ? NO_FIGURE : text
    return [
      shortId(p.peerId) + (p.peerId === view.self ? ' (self)' : ''),
      terminalSafe(p.name ?? '-'),
      colour(STATUS_COLOUR[p.status] ?? 0, terminalSafe(p.status)) + (p.status !== 'alive' || p.accepting ? '' : colour(33, p.draining === true ? ' draining' : ' yielding')),
      fig(percent(p.cpuLoad)),
      fig(percent(p.ownerCpuLoad)),
      fig(`${bytes(p.memFree)} / ${bytes(p.memTotal)}`),
      fig(bytes(p.diskFree)),
      fig(`${p.slotsFree}/${p.slotsTotal}`),
      fig(String(p.runningTasks)),
    ]
  })
  const alive = view.peers.filter(p => p.status === 'alive').length
  const yielding = view.peers.filter(p => p.status === 'alive' && !p.accepting).length
  return `${table(['NODE', 'NAME', 'STATUS', 'CPU', 'OWNER', 'MEM FREE', 'DISK FREE', 'SLOTS', 'TASKS'], rows)}\n${alive}/${view.peers.length} nodes alive${yielding > 0 ? `, ${yielding} not accepting tasks (yielding to their owner or draining)` : ''}`
}
