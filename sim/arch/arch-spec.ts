import type { ArchName } from '../config.js'

// The four architectures as configurations of one system: how state travels, who
// coordinates, whether executors are supervised, and how many backups hold a job's progress.

export type Transport = 'gossip' | 'heartbeat' | 'db'

export interface ArchSpec {
  name: ArchName
  transport: Transport
  election: 'rendezvous' | 'fixed'
  /** A daemon restarts a dead executor quickly and reports its tasks at once. */
  supervised: boolean
  backups: number
}

export function archSpec (name: ArchName, backups: number): ArchSpec {
  switch (name) {
    case 'p2p': return { name, transport: 'gossip', election: 'rendezvous', supervised: true, backups }
    case 'master-slave': return { name, transport: 'heartbeat', election: 'fixed', supervised: false, backups: 0 }
    case 'sync-db': return { name, transport: 'db', election: 'fixed', supervised: false, backups: 0 }
    case 'state-daemon': return { name, transport: 'heartbeat', election: 'fixed', supervised: true, backups: 0 }
  }
}
