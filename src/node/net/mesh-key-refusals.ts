import type { MeshKeyMismatch } from '../../security/mesh-key-check.js'
import type { Logger } from '../host/logger.js'

// Connections from (or to) peers holding another mesh key, told to the operator at info level:
// a node of the wrong mesh retries every couple of seconds, and anyone can connect to the p2p
// port, so each remote host is named at most once per REFUSAL_LOG_EVERY_MS (with the count of
// the ones in between), and at most REFUSAL_HOSTS_MAX hosts are remembered.

export const REFUSAL_LOG_EVERY_MS = 5 * 60_000
const REFUSAL_HOSTS_MAX = 1024

/** The host of a multiaddr such as /ip4/1.2.3.4/tcp/5 (the port changes with every connection). */
export function remoteHost (addr: string): string {
  return /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)/.exec(addr)?.[1] ?? addr
}

export class MeshKeyRefusals {
  /** host → when it was last logged and how many refusals have not been since. */
  private readonly hosts = new Map<string, { loggedMs: number, since: number }>()

  constructor (private readonly log: Logger, private readonly everyMs = REFUSAL_LOG_EVERY_MS) {}

  /** Logs the refusal unless this host was named less than `everyMs` ago; returns whether it logged. */
  note (refusal: MeshKeyMismatch, nowMs: number): boolean {
    const host = remoteHost(refusal.remoteAddr)
    const known = this.hosts.get(host)
    if (known !== undefined && nowMs - known.loggedMs < this.everyMs) {
      known.since++
      return false
    }
    const repeated = known?.since ?? 0
    this.hosts.delete(host) // re-inserted last: the map's order is the oldest logged first
    this.hosts.set(host, { loggedMs: nowMs, since: 0 })
    if (this.hosts.size > REFUSAL_HOSTS_MAX) this.hosts.delete(this.hosts.keys().next().value as string)
    const again = repeated > 0 ? ` (${repeated} more since last said)` : ''
    const text = refusal.direction === 'inbound'
      ? `refused a connection from ${host}: it does not hold this mesh's key${again}`
      : `could not connect to ${host}: it does not hold this mesh's key${again}`
    this.log.info({ remoteAddr: refusal.remoteAddr, direction: refusal.direction, repeated }, text)
    return true
  }
}
