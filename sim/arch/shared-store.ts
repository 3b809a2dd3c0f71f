import { ControlPlane } from '../model/control-plane.js'
import type { SimNode } from '../model/sim-node.js'
import type { SimMessage } from '../net/messages.js'
import type { World } from '../world.js'

// Sync-db: the shared store is its own endpoint with one service queue. Workers write their
// vector (a row per node) and their task results to it; the master polls it every dbPollMs
// and gets the changed rows and new results in one reply. The store's service time, its
// backlog bound and the master's per-row cost are what can make this design the bottleneck.
// Assignments still go master -> worker directly, and a suspicion notice goes to the suspect.

type Result = Extract<SimMessage, { t: 'task.ok' | 'task.failed' }>

const RESULTS_QUEUED_MAX = 1_000_000

export class SharedStore {
  readonly cpu: ControlPlane
  private readonly rows = new Map<number, Uint8Array>()
  private readonly dirty = new Set<number>()
  private results: Array<[number, Result]> = []
  dropped = 0

  constructor (private readonly w: World, readonly index: number) {
    this.cpu = new ControlPlane(w.sim, w.cfg.service.storeBacklogMsMax)
  }

  start (): void {
    this.w.sim.after(this.w.cfg.protocol.dbPollMs, () => this.poll())
  }

  write (origin: number, data: Uint8Array): void {
    this.w.net.send(origin, this.index, data.byteLength + 8, () => {
      this.cpu.handle(this.w.cfg.service.storeWriteUs, () => {
        this.rows.set(origin, data)
        this.dirty.add(origin)
      })
    })
  }

  /** A worker's task result, written to the store for the master to read. */
  result (from: number, _coordinator: number, m: Result): boolean {
    return this.w.net.send(from, this.index, this.w.bytesOf(m) + 20, () => {
      this.cpu.handle(this.w.cfg.service.storeWriteUs, () => {
        if (this.results.length >= RESULTS_QUEUED_MAX) {
          this.dropped++
          return
        }
        this.results.push([from, m])
      })
    })
  }

  receive (_from: number, _m: SimMessage, _bytes: number): void { /* nothing else is addressed to the store */ }

  private poll (): void {
    const w = this.w
    w.sim.after(w.cfg.protocol.dbPollMs, () => this.poll())
    const master = w.nodes[w.masterIndex]
    if (master === undefined || !master.up) return
    const epoch = master.epoch
    w.net.send(master.index, this.index, 64, () => {
      const svc = w.cfg.service
      this.cpu.handle(svc.storeReadUs + svc.storeRowUs * (this.dirty.size + this.results.length), () => {
        const vectors: Array<[number, Uint8Array]> = []
        for (const origin of this.dirty) vectors.push([origin, this.rows.get(origin) as Uint8Array])
        this.dirty.clear()
        const results = this.results
        this.results = []
        const reply: SimMessage = { t: 'db.rows', vectors, results }
        w.net.send(this.index, master.index, w.bytesOf(reply), () => { if (master.up && master.epoch === epoch) this.onRows(master, reply) })
      })
    })
  }

  /** The master reads the rows: each vector is a membership message, each result a task outcome. */
  onRows (master: SimNode, m: SimMessage): void {
    if (m.t !== 'db.rows') return
    const w = this.w
    const cost = w.cfg.service.vectorUs * m.vectors.length + w.resultCostUs(master) * m.results.length
    master.cpu.handle(cost, () => {
      if (!master.up) return
      for (const [origin, data] of m.vectors) {
        w.applyMembership(master, master.membership?.step({ type: 'message', from: w.nodes[origin]!.id, data }, w.sim.nowMs))
      }
      const coord = w.coordinatorOf(master)
      for (const [from, r] of m.results) coord?.onTaskResult(from, r)
    })
  }
}
