import type { Dispatch, Kind } from '../lib/workloads.js'

/** A baseline the harness drives: it splits and reduces at the submitter, the system runs map. */
export interface Baseline {
  /** Short id used in the JSON results, e.g. `moleculer-3`. */
  id: string
  /** One task to a worker; resolves with the map result. */
  dispatch: Dispatch
  /** Everything at once, the way the system's users would submit a batch (default: all dispatches at once). */
  dispatchAll?: (kind: Kind, chunks: unknown[]) => Promise<unknown[]>
  /** Housekeeping between runs, untimed (BullMQ: trim the events stream). */
  afterRun?: () => Promise<void>
  stop: () => Promise<void>
}
