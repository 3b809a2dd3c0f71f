import { join } from 'node:path'
import { Queue, QueueEvents } from 'bullmq'
import { spawnGroup, waitForReady, type Spawned } from '../lib/procs.js'
import type { Kind } from '../lib/workloads.js'
import type { BullmqWorkerConfig } from './bullmq-worker.js'
import type { Baseline } from './types.js'

// BullMQ on a real Redis server: `workers` worker processes (each with `concurrency` jobs in
// flight), a Queue and a QueueEvents in the benchmark process. A task is a job added with a
// known id; it is done when QueueEvents reports `completed` for that id (the return value comes
// with the event). Completed jobs are removed (removeOnComplete) — nothing waits on them with
// waitUntilFinished, which BullMQ issue 801 makes unreliable with removal.

export const BULLMQ_ADD_BULK_BATCH = 1000

export async function startBullmq (opts: { distBench: string, workers: number, concurrency: number, redisPort: number, runId: string, logDir: string, env: NodeJS.ProcessEnv }): Promise<Baseline> {
  const name = `mwbench-${opts.workers}`
  const connection = { host: '127.0.0.1', port: opts.redisPort }
  const queue = new Queue(name, { connection, streams: { events: { maxLen: 500_000 } } })
  const events = new QueueEvents(name, { connection, lastEventId: '0-0' })
  const children: Spawned[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async c => { try { c.proc.send?.('stop') } catch { /* gone */ } await c.stop(5000) }))
    await events.close().catch(() => {})
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close().catch(() => {})
  }
  const waiting = new Map<string, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  events.on('completed', ({ jobId, returnvalue }) => {
    const w = waiting.get(jobId)
    if (w !== undefined) { waiting.delete(jobId); w.resolve(returnvalue) }
  })
  events.on('failed', ({ jobId, failedReason }) => {
    const w = waiting.get(jobId)
    if (w !== undefined) { waiting.delete(jobId); w.reject(new Error(`bullmq job ${jobId} failed: ${failedReason}`)) }
  })
  try {
    await queue.waitUntilReady()
    await events.waitUntilReady()
    for (let i = 0; i < opts.workers; i++) {
      const config: BullmqWorkerConfig = { port: opts.redisPort, queue: name, concurrency: opts.concurrency }
      children.push(spawnGroup(process.execPath, [join(opts.distBench, 'systems', 'bullmq-worker.js'), JSON.stringify(config)], { ipc: true, env: opts.env, logFile: join(opts.logDir, `bullmq-worker-${opts.workers}-${i}.log`) }))
    }
    await Promise.all(children.map(async (c, i) => await waitForReady(c, `bullmq worker ${i}`)))
  } catch (err) {
    await stop()
    throw err
  }
  let seq = 0
  const expect = (): { id: string, done: Promise<unknown> } => {
    const id = `t${++seq}`
    const done = new Promise<unknown>((resolve, reject) => waiting.set(id, { resolve, reject }))
    return { id, done }
  }
  const jobOpts = { removeOnComplete: true, removeOnFail: true }
  return {
    id: `bullmq-${opts.workers}`,
    dispatch: async (kind, chunk) => {
      const { id, done } = expect()
      await queue.add('map', { kind, chunk }, { ...jobOpts, jobId: id })
      return await done
    },
    dispatchAll: async (kind: Kind, chunks: unknown[]) => {
      const expected = chunks.map(() => expect())
      for (let i = 0; i < chunks.length; i += BULLMQ_ADD_BULK_BATCH) {
        await queue.addBulk(chunks.slice(i, i + BULLMQ_ADD_BULK_BATCH).map((chunk, j) => ({ name: 'map', data: { kind, chunk }, opts: { ...jobOpts, jobId: (expected[i + j] as { id: string }).id } })))
      }
      return await Promise.all(expected.map(async e => await e.done))
    },
    afterRun: async () => { await queue.trimEvents(0) },
    stop,
  }
}
