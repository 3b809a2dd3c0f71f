import '../src/polyfill.js'
import { join } from 'node:path'
import { FINAL_STATES, type JobRecord } from '../src/jobs/job-spec.js'
import { MeshClient } from '../src/node/cli/client.js'
import { waitForFullMesh } from '../src/node/testing/local-mesh.js'
import { LocalMesh } from '../src/node/testing/local-mesh.js'
import type { SubmitRequest } from '../src/node/api/jobs-api.js'
import { buildSubmitRequest } from '../src/node/cli/submit.js'
import { packageRoot } from '../src/package-root.js'
import { seededRandom } from '../src/util/prng.js'
import { planFaults, type FaultKind, type PlannedFault } from './schedule.js'
import { createNetwork, removeStaleNetworks, uniquePrefix } from './netns.js'
import { netnsLauncher } from './netns-launcher.js'

// The chaos suite: real node processes on 127.0.0.1, a stream of jobs with checkable results,
// and faults from a seeded schedule (kill -9 of workers and of coordinators found through the
// jobs API, SIGSTOP/SIGCONT pauses, graceful restarts, and — with `partitions`, each node in
// its own network namespace — cuts of the network between a minority and a majority of the
// nodes). One fault at a time: with replica sets of 3 a majority survives any single failure.
// It ends with a table; jobs lost and wrong or duplicate results must be 0.

export interface ChaosOptions {
  nodes: number
  seed: number
  durationMs: number
  concurrency: number
  tasksPerJob: number
  taskMs: number
  /** A job not final this long after its submission is lost. */
  jobDeadlineMs: number
  /** Run each node in its own network namespace and add partitions to the faults (root + iproute2). */
  partitions?: boolean
  log?: (line: string) => void
  /** Ends the run early (Ctrl-C): jobs stop, faults stop, and the mesh and namespaces are removed. */
  signal?: AbortSignal
}

interface JobOutcome {
  jobId: string
  expected: number
  submittedMs: number
  finishedMs: number | undefined
  record: JobRecord | undefined
  faulted: boolean
}

interface InjectedFault { kind: FaultKind, node: number, atMs: number, endMs: number, failoverMs?: number }

export interface ChaosReport {
  options: ChaosOptions
  jobs: JobOutcome[]
  faults: InjectedFault[]
  submitted: number
  correct: number
  lost: number
  wrong: number
  duplicates: number
  latencyMs: { clean: [number, number], faulted: [number, number] }
  failoverMsMax: number
  table: string
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

export async function runChaos (opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {})
  const started = Date.now()
  const elapsed = (): number => Date.now() - started
  let network: Awaited<ReturnType<typeof createNetwork>> | undefined
  let launcher: ReturnType<typeof netnsLauncher> | undefined
  if (opts.partitions === true) {
    await removeStaleNetworks()
    network = await createNetwork(uniquePrefix(), opts.nodes)
    launcher = netnsLauncher(network)
  }
  let mesh: LocalMesh
  try {
    mesh = await LocalMesh.start({ nodes: opts.nodes, args: ['--slots', '2'], logLevel: 'info', ...(launcher !== undefined ? { launcher } : {}) })
  } catch (err) {
    await launcher?.close()
    await network?.destroy()
    throw err
  }
  const jobs: JobOutcome[] = []
  const faults: InjectedFault[] = []
  const down = new Set<number>()
  try {
    await waitForFullMesh(mesh, opts.nodes, 60_000)
    const template = await buildSubmitRequest(join(packageRoot(), 'chaos', 'jobs', 'sum.mjs'), { json: null })
    const live = (): number[] => mesh.nodes.map((n, i) => (n.proc !== undefined && !down.has(i) ? i : -1)).filter(i => i >= 0)
    const random = seededRandom(opts.seed ^ 0x5eed)
    let stop = false
    opts.signal?.addEventListener('abort', () => { stop = true })
    let jobNumber = 0

    const runJobs = async (): Promise<void> => {
      while (!stop) {
        const n = jobNumber++
        const values = Array.from({ length: opts.tasksPerJob }, (_, i) => n * 1000 + i)
        const expected = 2 * values.reduce((a, b) => a + b, 0)
        const candidates = live()
        const submitter = candidates[Math.floor(random() * candidates.length)]
        if (submitter === undefined) { await sleep(200); continue }
        const request: SubmitRequest = { ...template, input: { type: 'json', value: { values, ms: opts.taskMs } } }
        let jobId: string
        try {
          jobId = (await new MeshClient(mesh.nodes[submitter]!.apiUrl, mesh.token).post<{ jobId: string }>('/jobs', request)).jobId
        } catch {
          await sleep(200) // the node went down between the pick and the post: not a submitted job
          continue
        }
        const outcome: JobOutcome = { jobId, expected, submittedMs: elapsed(), finishedMs: undefined, record: undefined, faulted: false }
        jobs.push(outcome)
        outcome.record = await follow(jobId, submitter)
        outcome.finishedMs = outcome.record !== undefined && FINAL_STATES.has(outcome.record.state) ? elapsed() : undefined
        log(`job ${jobId} ${outcome.record?.state ?? 'LOST'} term ${outcome.record?.term ?? '-'} in ${(outcome.finishedMs ?? elapsed()) - outcome.submittedMs} ms`)
      }
    }

    /** Poll the submitter's node, or any live node once it is gone, until the job is final. */
    const follow = async (jobId: string, submitter: number): Promise<JobRecord | undefined> => {
      const deadline = Date.now() + opts.jobDeadlineMs
      let last: JobRecord | undefined
      while (Date.now() < deadline && opts.signal?.aborted !== true) {
        const order = [submitter, ...live().filter(i => i !== submitter)].filter(i => live().includes(i))
        for (const i of order) {
          try {
            const res = await mesh.fetch(i, `/jobs/${jobId}`)
            if (!res.ok) continue
            last = await res.json() as JobRecord
            if (FINAL_STATES.has(last.state)) return last
            break
          } catch { /* node down: try the next */ }
        }
        await sleep(100)
      }
      return last
    }

    /** Running jobs as the live nodes report them (`GET /jobs`, what `meshwork jobs --json` prints). */
    const runningJobs = async (): Promise<JobRecord[]> => {
      const byId = new Map<string, JobRecord>()
      for (const i of live()) {
        try {
          const { jobs: list } = await (await mesh.fetch(i, '/jobs')).json() as { jobs: JobRecord[] }
          for (const j of list) {
            const known = byId.get(j.jobId)
            if (j.state === 'running' && (known === undefined || j.term > known.term)) byId.set(j.jobId, j)
          }
        } catch { /* node going down: skip it */ }
      }
      return [...byId.values()].sort((a, b) => a.jobId < b.jobId ? -1 : 1)
    }

    const inject = async (plan: PlannedFault): Promise<void> => {
      let node: number | undefined
      let watchJob: JobRecord | undefined
      const candidates = live()
      if (plan.kind === 'kill-coordinator') {
        const running = (await runningJobs()).filter(j => candidates.includes(mesh.nodes.findIndex(n => n.peerId === j.coordinator)))
        watchJob = running[plan.pick % Math.max(1, running.length)]
        node = watchJob === undefined ? undefined : mesh.nodes.findIndex(n => n.peerId === watchJob!.coordinator)
      } else if (plan.kind === 'kill-worker') {
        const coordinators = new Set((await runningJobs()).map(j => j.coordinator))
        const workers = candidates.filter(i => !coordinators.has(mesh.nodes[i]!.peerId))
        node = workers[plan.pick % Math.max(1, workers.length)]
      } else {
        node = candidates[plan.pick % candidates.length]
      }
      if (node === undefined) { log(`fault ${plan.kind}: no candidate, skipped`); return }
      if (plan.kind === 'partition') return await partition(plan, node)
      const fault: InjectedFault = { kind: plan.kind, node, atMs: elapsed(), endMs: 0 }
      faults.push(fault)
      down.add(node)
      log(`fault ${plan.kind} on node ${node} for ${plan.downMs} ms`)
      if (plan.kind === 'pause') mesh.signal(node, 'SIGSTOP')
      else await mesh.kill(node, plan.kind === 'restart' ? 'SIGTERM' : 'SIGKILL')
      const failover = watchJob !== undefined ? watchFailover(watchJob, fault) : Promise.resolve()
      await sleep(plan.downMs)
      if (plan.kind === 'pause') mesh.signal(node, 'SIGCONT')
      else await mesh.startNode(node)
      down.delete(node)
      fault.endMs = elapsed()
      await failover
      await waitForFullMesh(mesh, opts.nodes, 60_000).catch(() => log('mesh did not fully converge after the fault'))
    }

    /**
     * Cut a minority (the picked node and the next ones, fewer than half) from the rest, hold it,
     * heal. Coordinators on the minority side cannot commit; their jobs finish on the majority
     * side (or, if the majority holds none of a job's replica set, after the heal).
     */
    const partition = async (plan: PlannedFault, first: number): Promise<void> => {
      const size = Math.max(1, Math.floor((opts.nodes - 1) / 2))
      const minority = Array.from({ length: size }, (_, k) => (first + k) % opts.nodes)
      const majority = mesh.nodes.map((_, i) => i).filter(i => !minority.includes(i))
      const fault: InjectedFault = { kind: 'partition', node: first, atMs: elapsed(), endMs: 0 }
      faults.push(fault)
      log(`fault partition [${minority.join(',')}] | [${majority.join(',')}] for ${plan.downMs} ms`)
      await launcher!.partition([minority, majority])
      await sleep(plan.downMs)
      await network!.heal()
      fault.endMs = elapsed()
      await waitForFullMesh(mesh, opts.nodes, 60_000).catch(() => log('mesh did not fully converge after the heal'))
    }

    /** Time from the kill until another node coordinates the job under a higher term (or it ends). */
    const watchFailover = async (job: JobRecord, fault: InjectedFault): Promise<void> => {
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        for (const i of live()) {
          try {
            const r = await (await mesh.fetch(i, `/jobs/${job.jobId}`)).json() as JobRecord
            if (r.term > job.term || FINAL_STATES.has(r.state)) {
              fault.failoverMs = elapsed() - fault.atMs
              return
            }
            break
          } catch { /* next */ }
        }
        await sleep(50)
      }
    }

    const streams = Array.from({ length: opts.concurrency }, async () => await runJobs())
    for (const plan of planFaults(opts.seed, opts.durationMs, undefined, undefined, opts.partitions === true)) {
      while (elapsed() < plan.atMs && !stop) await sleep(50)
      if (stop) break
      await inject(plan)
    }
    while (elapsed() < opts.durationMs && !stop) await sleep(100)
    stop = true
    await Promise.all(streams)
    if (opts.signal?.aborted === true) throw new Error('chaos run interrupted')

    // Every node that knows a job must know the same final record.
    let duplicates = 0
    const finals = new Map<string, string>()
    for (const i of live()) {
      const { jobs: list } = await (await mesh.fetch(i, '/jobs')).json() as { jobs: JobRecord[] }
      for (const j of list) {
        if (!FINAL_STATES.has(j.state)) continue
        const full = await (await mesh.fetch(i, `/jobs/${j.jobId}`)).json() as JobRecord
        const key = JSON.stringify([full.state, full.term, full.result])
        const seen = finals.get(j.jobId)
        if (seen !== undefined && seen !== key) {
          duplicates++
          log(`DUPLICATE ${j.jobId}: ${seen} elsewhere, ${key} on node ${i}`)
        }
        finals.set(j.jobId, key)
      }
    }
    return summarize(opts, jobs, faults, duplicates)
  } finally {
    await mesh.stop()
    await launcher?.close()
    await network?.destroy()
  }
}

function summarize (opts: ChaosOptions, jobs: JobOutcome[], faults: InjectedFault[], duplicates: number): ChaosReport {
  for (const job of jobs) {
    const end = job.finishedMs ?? Number.POSITIVE_INFINITY
    job.faulted = faults.some(f => f.atMs <= end && (f.endMs === 0 || f.endMs >= job.submittedMs))
  }
  const done = jobs.filter(j => j.record?.state === 'done')
  const correct = done.filter(j => j.record?.result === j.expected).length
  const wrong = done.length - correct
  const lost = jobs.length - done.length
  const pct = (xs: number[], q: number): number => {
    if (xs.length === 0) return NaN
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
  }
  const lat = (faulted: boolean): [number, number] => {
    const xs = done.filter(j => j.faulted === faulted).map(j => (j.finishedMs as number) - j.submittedMs)
    return [pct(xs, 0.5), pct(xs, 0.99)]
  }
  const byKind = (k: FaultKind): number => faults.filter(f => f.kind === k).length
  const failoverMsMax = Math.max(0, ...faults.map(f => f.failoverMs ?? 0))
  const latencyMs = { clean: lat(false), faulted: lat(true) }
  const table = [
    `Chaos run: ${opts.nodes} nodes${opts.partitions === true ? ' (one network namespace each)' : ' on 127.0.0.1'}, seed ${opts.seed}, ${Math.round(opts.durationMs / 1000)} s, ${opts.concurrency} jobs at a time of ${opts.tasksPerJob} tasks × ${opts.taskMs} ms`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| jobs submitted | ${jobs.length} |`,
    `| faults: kill -9 coordinator / kill -9 worker / pause (SIGSTOP) / restart (SIGTERM) / partition | ${byKind('kill-coordinator')} / ${byKind('kill-worker')} / ${byKind('pause')} / ${byKind('restart')} / ${opts.partitions === true ? byKind('partition') : 'off'} |`,
    `| jobs completed with the correct result | ${correct} |`,
    `| jobs lost (must be 0) | ${lost} |`,
    `| wrong or duplicate results (must be 0) | ${wrong + duplicates} |`,
    `| job latency p50 / p99 without faults, ms | ${latencyMs.clean.map(x => Number.isNaN(x) ? '-' : String(x)).join(' / ')} |`,
    `| job latency p50 / p99 with faults, ms | ${latencyMs.faulted.map(x => Number.isNaN(x) ? '-' : String(x)).join(' / ')} |`,
    `| longest failover (coordinator kill → higher term or end), ms | ${failoverMsMax} |`,
    '',
  ].join('\n')
  return { options: opts, jobs, faults, submitted: jobs.length, correct, lost, wrong, duplicates, latencyMs, failoverMsMax, table }
}
