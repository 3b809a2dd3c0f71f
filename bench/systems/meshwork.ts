import type { JobRecord } from '../../src/jobs/job-spec.js'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { ClientError, MeshClient } from '../../src/node/cli/client.js'
import { LocalMesh } from '../../src/node/testing/local-mesh.js'
import { followJob, prepareJob, sendJob, type InputSource, type PreparedJob } from '../../src/node/cli/submit.js'
import { onCleanup, trackGroup } from '../lib/procs.js'

// Meshwork: a local mesh of real `meshwork start` processes on 127.0.0.1 (default LAN timers),
// jobs submitted to node 0's control API with the programmatic client — the request built once
// by `buildSubmitRequest` (module bundled, input read), POST /jobs, then `followJob` following the
// job until it is final: long polls that the node answers when the job's record changes, at most
// one per POLL_MS. That is `Mesh.submit` with a shorter minimum interval (Mesh.submit's 100 ms
// could add up to 100 ms to a wall time when a job ends just after an update), and with
// retries of a failed poll: while a daemon is busy with a large job its event loop can stall for
// seconds, and a poll on a kept-alive connection then fails with ECONNRESET although the job
// goes on (followJob gives up on the first error; see `pollErrors`).

export const POLL_MS = 20

export interface MeshRun { clientWallMs: number, record: JobRecord, pollErrors: number, postRetries: number }

export interface MeshworkSystem {
  id: string
  nodes: number
  build: (modulePath: string, input: InputSource, parts?: number) => Promise<PreparedJob>
  run: (job: PreparedJob) => Promise<MeshRun>
  /** Each node's process id (the daemon; its executors are its descendants). */
  pids: () => number[]
  stop: () => Promise<void>
}

export async function startMeshwork (opts: { nodes: number, baseDir: string, env: NodeJS.ProcessEnv, pollMs?: number, /** Extra `meshwork start` arguments (e.g. --sandbox none). */ args?: string[] }): Promise<MeshworkSystem> {
  const mesh = new LocalMesh({ nodes: opts.nodes, fastTimers: false, logLevel: 'warn', baseDir: opts.baseDir, env: opts.env, ...(opts.args !== undefined ? { args: opts.args } : {}) })
  const untracks: Array<() => void> = []
  const stop = async (): Promise<void> => {
    unregister()
    await mesh.stop()
    for (const u of untracks) u()
  }
  const unregister = onCleanup(stop)
  try {
    // LocalMesh.start, with every node's process group tracked as soon as it exists.
    await mesh.startNode(0)
    untracks.push(trackGroup(mesh.nodes[0]?.pid))
    await Promise.all(Array.from({ length: opts.nodes - 1 }, async (_, i) => {
      const node = mesh.startNode(i + 1)
      // startNode assigns mesh.nodes[i + 1] synchronously, before it waits for readiness
      untracks.push(trackGroup(mesh.nodes[i + 1]?.pid))
      await node
    }))
    await waitForFullMesh(mesh, opts.nodes, 60_000)
  } catch (err) {
    await stop()
    throw err
  }
  const client = new MeshClient((mesh.nodes[0] as { apiUrl: string }).apiUrl, mesh.token)
  return {
    id: `meshwork-${opts.nodes}`,
    nodes: opts.nodes,
    build: async (modulePath, input, parts) => await prepareJob(modulePath, input, parts !== undefined ? { parts } : {}),
    run: async request => {
      const t0 = performance.now()
      const { jobId, retries: postRetries } = await submit(client, request)
      const { record, pollErrors } = await follow(client, jobId, opts.pollMs ?? POLL_MS)
      const clientWallMs = performance.now() - t0
      if (record.state !== 'done') throw new Error(`meshwork job ${jobId} ${record.state}: ${record.error ?? ''}`)
      return { clientWallMs, record, pollErrors, postRetries }
    },
    pids: () => mesh.nodes.map(n => n?.pid ?? 0),
    stop,
  }
}

/**
 * The upload and POST /jobs (sendJob), sent again once when the connection broke before any answer (EPIPE/ECONNRESET on a
 * kept-alive socket the busy daemon closed while the body was being written). Only errors
 * without an HTTP status are retried: the node cannot have accepted a body it did not read.
 */
async function submit (client: MeshClient, job: PreparedJob): Promise<{ jobId: string, retries: number }> {
  for (let retries = 0; ; retries++) {
    try {
      const { jobId } = await sendJob(client, job)
      return { jobId, retries }
    } catch (err) {
      if (retries >= 1 || !(err instanceof ClientError) || !err.message.startsWith('Cannot reach the node')) throw err
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
}

/** `followJob`, retrying a failed poll up to POLL_RETRIES times in a row (and counting them). */
async function follow (client: MeshClient, jobId: string, pollMs: number): Promise<{ record: JobRecord, pollErrors: number }> {
  let pollErrors = 0
  const record = await followJob(client, jobId, undefined, pollMs, { retries: POLL_RETRIES, onRetry: () => { pollErrors++ } })
  return { record, pollErrors }
}

const POLL_RETRIES = 5
