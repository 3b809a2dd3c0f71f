import { DEFAULT_SCHEDULER_CONFIG } from '../../src/jobs/scheduler-config.js'
import { median } from '../stats.js'
import { MOLECULER_MAX_PACKET_BYTES } from '../systems/moleculer.js'
import { BULLMQ_ADD_BULK_BATCH } from '../systems/bullmq.js'
import { POLL_MS } from '../systems/meshwork.js'
import type { MachineFacts } from './machine.js'
import type { SandboxFigures } from './sandbox-cost.js'
import { renderSandboxSection } from './sandbox-report.js'
import type { Metric, Results } from './results.js'

// BENCHMARKS.md from one run's figures.

export interface BenchConfig {
  quick: boolean
  runs: number
  tasks: number
  /** Tasks in each bounded-window latency run (fewer than `tasks`: latency needs no more). */
  latencyTasks: number
  sizes: number[]
  /** The process count of the headline comparison (the first size, 3 by default). */
  headline: number
  primesTo: number | undefined
  primesTargetSeqMs: number
  primesParts: number
  corpusBytes: number
  wordsParts: number
  piscinaConcurrency: number[]
  bullmqConcurrency: number
  meshWindowPerNode: number
  /** Tasks Meshwork keeps in flight for a job of tiny tasks (slots × localGroupMax); absent in runs before groups. */
  meshKeptInFlight?: number
  cores: number
  command: string
}

export interface ReportInput {
  results: Results
  config: BenchConfig
  facts: MachineFacts
  totalS: number
  charts: { svg?: string, png?: string }
  json: string
  /** The sandbox's cost (bench/lib/sandbox-cost.ts), when measured. */
  sandbox?: SandboxFigures
}

const nf = (digits: number) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const num = (v: number | undefined, digits = 0): string => v === undefined || !Number.isFinite(v) ? '–' : nf(digits).format(v)
/** "median (min–max)" */
export const spread = (values: number[] | undefined, digits = 0): string =>
  values === undefined ? '–' : values.length === 1 ? num(values[0], digits) : `${num(median(values), digits)} (${num(Math.min(...values), digits)}–${num(Math.max(...values), digits)})`
const ratio = (a: number | undefined, b: number | undefined): string => {
  if (a === undefined || b === undefined || b === 0 || !Number.isFinite(a / b)) return '–'
  const r = a / b
  return `${r >= 100 ? num(r) : r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : Number(r.toPrecision(2)).toString()}×`
}

/** How many of a Meshwork system's empty tasks ran on the job's coordinator's node (a sentence). */
function onCoordinator (r: Results, id: string, tasks: number): string {
  const shares = r.get(id, 'empty.onCoordinator')
  if (shares === undefined) return ''
  return ` In these runs ${spread(shares.map(x => x * 100), 2)} % of the tasks ran on the coordinator's node: ${num(Math.round((1 - median(shares)) * tasks))} of ${num(tasks)} elsewhere (median).`
}

export function label (id: string, config: BenchConfig): string {
  const [family, n] = [id.replace(/-\d+$/, ''), Number(/-(\d+)$/.exec(id)?.[1])]
  switch (family) {
    case 'sequential': return 'single process, sequential'
    case 'piscina': return `piscina, ${config.cores} threads, concurrentTasksPerWorker ${n}${n === 1 ? ' (default)' : ''}`
    case 'moleculer': return `Moleculer TCP, ${n} nodes + caller`
    case 'bullmq': return `BullMQ + Redis, ${n} workers × concurrency ${config.bullmqConcurrency}`
    case 'meshwork': return `**Meshwork, ${n} nodes**`
    default: return id
  }
}

const processes = (id: string, config: BenchConfig): string => {
  const n = Number(/-(\d+)$/.exec(id)?.[1])
  if (id === 'sequential') return '1'
  if (id.startsWith('piscina')) return `1 (${config.cores} threads)`
  if (id.startsWith('moleculer')) return `${n} + caller`
  if (id.startsWith('bullmq')) return `${n} + Redis`
  if (id.startsWith('meshwork')) return `${n} (+ ${n * config.cores} executors)`
  return '?'
}

export function systemsAt (results: Results, config: BenchConfig, n: number): string[] {
  const ids = ['sequential', ...config.piscinaConcurrency.map(c => `piscina-${c}`), `moleculer-${n}`, `bullmq-${n}`, `meshwork-${n}`]
  return ids.filter(id => results.data[id] !== undefined || results.errors[id] !== undefined)
}

interface Target { name: string, measured: string, met: boolean | undefined, note?: string }

export function targets (results: Results, config: BenchConfig): Target[] {
  const n = config.headline
  const mesh = `meshwork-${n}`
  const tps = results.med(mesh, 'empty.tps')
  const out: Target[] = []
  for (const other of [`bullmq-${n}`, `moleculer-${n}`]) {
    const o = results.med(other, 'empty.tps')
    out.push({
      name: `empty-task throughput, ${n}-node mesh ≥ ${other.startsWith('bullmq') ? 'BullMQ' : 'Moleculer'} with ${n} processes`,
      measured: `${num(tps)} vs ${num(o)} tasks/s (${ratio(tps, o)})`,
      met: tps === undefined || o === undefined ? undefined : tps >= o,
    })
  }
  out.push({ name: 'empty-task throughput from one submitter > 8,000 tasks/s', measured: `${num(tps)} tasks/s (${ratio(tps, 8000)} of the target)`, met: tps === undefined ? undefined : tps > 8000 })
  const p = results.med(mesh, 'empty.p50')
  out.push({ name: 'per-task round trip p50 < 1 ms', measured: `${num(p, 3)} ms`, met: p === undefined ? undefined : p < 1 })
  const seq = results.med('sequential', 'primes.wallMs')
  const wall = results.med(mesh, 'primes.wallMs')
  const eff = seq === undefined || wall === undefined ? undefined : seq / (wall * config.cores)
  out.push({ name: `CPU-bound parallel efficiency ≥ 0.9 on ${config.cores} cores`, measured: num(eff, 3), met: eff === undefined ? undefined : eff >= 0.9 })
  const pools = config.piscinaConcurrency.map(c => ({ id: `piscina-${c}`, wall: results.med(`piscina-${c}`, 'primes.wallMs') })).filter(x => x.wall !== undefined)
  const best = pools.sort((a, b) => (a.wall as number) - (b.wall as number))[0]
  out.push({
    name: 'CPU-bound within 10% of the local worker pool (wall ≤ 1.1 × the faster piscina setting)',
    measured: best === undefined || wall === undefined ? '–' : `${num(wall)} vs ${num(best.wall)} ms (${best.id}): ${ratio(wall, best.wall)}`,
    met: best === undefined || wall === undefined ? undefined : wall <= 1.1 * (best.wall as number),
  })
  return out
}

function emptyTable (r: Results, c: BenchConfig): string[] {
  const n = c.headline
  const meshT = r.med(`meshwork-${n}`, 'empty.tps')
  const rows = systemsAt(r, c, n).map(id => {
    const t = r.get(id, 'empty.tps')
    return `| ${label(id, c)} | ${processes(id, c)} | ${spread(t)} | ${id.startsWith('meshwork') ? '1.00×' : ratio(meshT, t === undefined ? undefined : median(t))} |`
  })
  const node = r.get(`meshwork-${n}`, 'empty.node.tps')
  return [
    `### 1. ${num(c.tasks)} empty tasks — throughput, everything submitted at once`,
    '',
    'Tasks ÷ wall time at the submitter, from the first submission to the last result (the reduce included).',
    '',
    '| system | processes | tasks/s, median (min–max) | Meshwork ÷ this |',
    '|---|---|---:|---:|',
    ...rows,
    '',
    `Meshwork's figure is the client's: POST /jobs (module bundled beforehand) until \`followJob\` sees the job done (long polls \`GET /jobs/ID?wait=\`, answered as the job's record changes, at most one per ${POLL_MS} ms). Measured by the node instead (job submitted → reduced): ${spread(node)} tasks/s.`,
    '',
    `An empty task runs for microseconds: less than it costs to send. Meshwork's scheduler keeps such a job on its coordinator's node once the first run times come back (a task running under ${num(DEFAULT_SCHEDULER_CONFIG.localRunBelowMsPerSlot * 1000)} µs per slot of that node, \`localRunBelowMsPerSlot\`), and other nodes run only the tasks placed before that. On its own node it sends them ${DEFAULT_SCHEDULER_CONFIG.localGroupMax} to an attempt (\`localGroupMax\`), one group per slot.${onCoordinator(r, `meshwork-${n}`, c.tasks)}`,
    '',
    ...firstOnNode(r, `meshwork-${n}`),
  ]
}

/** The warm-up's empty-task jobs, each the first its coordinator ran (a paragraph, or nothing). */
function firstOnNode (r: Results, id: string): string[] {
  const first = r.get(id, 'empty.firstOnNode.tps')
  if (first === undefined) return []
  return [
    `Each job's coordinator is chosen per job, and a node compiles its coordinator's code on the first job it coordinates, so Meshwork's warm-up runs empty-task jobs until every node has coordinated one (the other systems' single warm-up pass warms their one caller). Those warm-up jobs, each a node's first, ran at ${spread(first)} tasks/s (${first.length} jobs; the first on a fresh mesh also starts every node's executors).`,
    '',
  ]
}

function latencyTable (r: Results, c: BenchConfig): string[] {
  const n = c.headline
  const win = c.meshKeptInFlight ?? c.meshWindowPerNode
  const meshP = r.med(`meshwork-${n}`, 'empty.p50')
  const rows: string[] = []
  for (const id of systemsAt(r, c, n)) {
    if (id === 'sequential') {
      rows.push(`| ${label(id, c)} | 1 | ${spread(r.get(id, 'empty.p50'), 4)} | ${spread(r.get(id, 'empty.p99'), 4)} | ${ratio(meshP, r.med(id, 'empty.p50'))} | – | one in-process call of map() |`)
    } else if (id.startsWith('meshwork')) {
      rows.push(`| ${label(id, c)} | ${win}, on the coordinator's node | ${spread(r.get(id, 'empty.p50'), 3)} | ${spread(r.get(id, 'empty.p99'), 3)} | 1.00× | ${spread(r.get(id, 'empty.tps'))} | coordinator: task assigned → result back (job record \`taskRoundTripMs\`), in the all-at-once run above |`)
    } else {
      const what = id.startsWith('piscina') ? '`pool.run()` → resolved, at the caller'
        : id.startsWith('moleculer') ? '`broker.call()` → response, at the caller broker'
          : '`queue.add()` → `completed` event from QueueEvents, at the producer'
      rows.push(`| ${label(id, c)} | ${win} at the submitter | ${spread(r.get(id, 'empty.win.p50'), 3)} | ${spread(r.get(id, 'empty.win.p99'), 3)} | ${ratio(meshP, r.med(id, 'empty.win.p50'))} | ${spread(r.get(id, 'empty.win.tps'))} | ${what} |`)
    }
  }
  return [
    `### 1b. Empty tasks — per-task latency with ${win} tasks in flight`,
    '',
    `Baselines: ${num(c.latencyTasks)} empty tasks per run, a bounded window at the submitter. Meshwork: the ${num(c.tasks)}-task runs of table 1. Meshwork's coordinator keeps a job of tiny tasks on its own node (see table 1), with at most ${win} in flight there (${c.meshKeptInFlight !== undefined ? `one group of localGroupMax ${c.meshKeptInFlight / c.cores} tasks per slot, ${c.cores} slots; a task's round trip is its group's` : `slots = ${c.cores} cores × shortWindowPerSlot ${c.meshWindowPerNode / c.cores}`}). The baselines get the same number in flight from the submitter (a new task as soon as one returns), so their round trips are not inflated by tasks queued behind thousands of others. Each latency column says what it measures. Medians over runs of the per-run p50/p99.`,
    '',
    '| system | in flight | p50 ms | p99 ms | Meshwork p50 ÷ this | tasks/s in this run | measures |',
    '|---|---|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ]
}

function primesTable (r: Results, c: BenchConfig): string[] {
  const n = c.headline
  const seq = r.med('sequential', 'primes.wallMs')
  const meshW = r.med(`meshwork-${n}`, 'primes.wallMs')
  const rows = systemsAt(r, c, n).map(id => {
    const w = r.get(id, 'primes.wallMs')
    const eff = w === undefined || seq === undefined ? undefined : w.map(x => seq / (x * c.cores))
    return `| ${label(id, c)} | ${processes(id, c)} | ${spread(w)} | ${spread(eff, 3)} | ${id.startsWith('meshwork') ? '1.00×' : ratio(meshW, w === undefined ? undefined : median(w))} |`
  })
  const node = r.get(`meshwork-${n}`, 'primes.node.wallMs')
  return [
    `### 2. CPU-bound: primes below ${num(c.primesTo)} (examples/primes.mjs), ${c.primesParts} ranges`,
    '',
    `Parallel efficiency = single-process time ÷ (wall × ${c.cores} cores); the single-process median is the numerator of every row. All ranges submitted at once.`,
    '',
    '| system | processes | wall ms, median (min–max) | parallel efficiency | Meshwork wall ÷ this |',
    '|---|---|---:|---:|---:|',
    ...rows,
    '',
    `Meshwork's wall is the client's (as above); measured by the node: ${spread(node)} ms.`,
    '',
  ]
}

function wordsTable (r: Results, c: BenchConfig): string[] {
  const n = c.headline
  const meshW = r.med(`meshwork-${n}`, 'words.wallMs')
  const rows = systemsAt(r, c, n).map(id => {
    const w = r.get(id, 'words.wallMs')
    const mbs = w?.map(x => c.corpusBytes / 1e6 / (x / 1000))
    return `| ${label(id, c)} | ${processes(id, c)} | ${spread(w)} | ${spread(mbs, 1)} | ${id.startsWith('meshwork') ? '1.00×' : ratio(w === undefined ? undefined : median(w), meshW)} |`
  })
  return [
    `### 3. Word count over a ${num(c.corpusBytes / 1e6, 1)} MB generated corpus (examples/wordcount.mjs), ${c.wordsParts} parts`,
    '',
    'Wall time from reading the file to the reduced top-20 (every system reads the file, splits it at line boundaries into the same parts and merges the counts; results checked against the single process). Meshwork\'s client streams the file to its node (`PUT /blobs`, inside the timing), each worker reads its range of lines from that node peer to peer, the results travel as their JSON text and the coordinator\'s executor reduces them.',
    '',
    '| system | processes | wall ms, median (min–max) | MB/s | Meshwork speed ÷ this |',
    '|---|---|---:|---:|---:|',
    ...rows,
    '',
    `Measured by the node (job received → reduced): ${spread(r.get(`meshwork-${n}`, 'words.node.wallMs'))} ms. Tasks run off the coordinator's node: ${spread(r.get(`meshwork-${n}`, 'words.offCoordinator')?.map(x => x * 100))} %.`,
    '',
  ]
}

function scalingTables (r: Results, c: BenchConfig): string[] {
  if (c.sizes.length < 2) return []
  const seq = r.med('sequential', 'primes.wallMs')
  const row = (metric: Metric, n: number, digits: number, f: (v: number) => number = v => v): string => {
    const get = (fam: string): number | undefined => { const v = r.med(`${fam}-${n}`, metric); return v === undefined ? undefined : f(v) }
    const m = get('meshwork')
    const mo = get('moleculer')
    const b = get('bullmq')
    return `| ${n} | ${num(m, digits)} | ${num(mo, digits)} | ${num(b, digits)} | ${ratio(m, mo)} | ${ratio(m, b)} |`
  }
  const eff = (w: number): number => seq === undefined ? NaN : seq / (w * c.cores)
  const head = ['| processes | Meshwork | Moleculer | BullMQ | Meshwork ÷ Moleculer | Meshwork ÷ BullMQ |', '|---:|---:|---:|---:|---:|---:|']
  const overhead = c.sizes.map(n => {
    const m = r.med(`meshwork-${n}`, 'empty.tps')
    return m === undefined ? '–' : `${n}: ${num(1e6 / m, 1)} µs`
  }).join(', ')
  return [
    '### 4. How the overhead grows with the number of processes',
    '',
    'Empty-task throughput, all at once (tasks/s, medians):',
    '',
    ...head,
    ...c.sizes.map(n => row('empty.tps', n, 0)),
    '',
    `Meshwork's cost per empty task (1 ÷ throughput): ${overhead}.`,
    '',
    `Per-task latency p50 (ms; Meshwork: coordinator round trip; others: submitter round trip with ${c.meshKeptInFlight ?? c.meshWindowPerNode} in flight):`,
    '',
    ...head,
    ...c.sizes.map(n => {
      const m = r.med(`meshwork-${n}`, 'empty.p50')
      const mo = r.med(`moleculer-${n}`, 'empty.win.p50')
      const b = r.med(`bullmq-${n}`, 'empty.win.p50')
      return `| ${n} | ${num(m, 3)} | ${num(mo, 3)} | ${num(b, 3)} | ${ratio(m, mo)} | ${ratio(m, b)} |`
    }),
    '',
    `CPU-bound parallel efficiency (primes, ${c.cores} cores):`,
    '',
    ...head,
    ...c.sizes.map(n => row('primes.wallMs', n, 3, eff)),
    '',
  ]
}

function incidents (r: Results): string[] {
  const lines: string[] = []
  for (const [id, counts] of Object.entries(r.counts)) {
    for (const [what, n] of Object.entries(counts)) {
      if (what === 'pollErrors') lines.push(`- \`${id}\`: ${n} status poll(s) failed (the node did not answer, e.g. ECONNRESET while its event loop was blocked) and were retried; \`followJob\` alone would have failed the job.`)
      else if (what === 'postRetries') lines.push(`- \`${id}\`: ${n} job submission(s) broke before any answer (EPIPE/ECONNRESET: the node closed the kept-alive connection while the body was being sent) and were sent again.`)
      else if (what.startsWith('failed: ')) lines.push(`- \`${id}\`: ${n}× ${what.slice('failed: '.length)} — that run was skipped, so this system has fewer timed runs than the others.`)
    }
  }
  return lines.length > 0 ? ['## Incidents during the run', '', ...lines, ''] : []
}

export function renderReport ({ results, config: c, facts, totalS, charts, json, sandbox }: ReportInput): string {
  const ts = targets(results, c)
  const mark = (m: boolean | undefined): string => m === undefined ? 'not measured' : m ? '**met**' : '**missed**'
  const errors = Object.entries(results.errors)
  const f = facts
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`${c.command}\` (${c.quick ? 'quick smoke run — small inputs, one run: not for comparison' : 'full run'}) on ${f.date.slice(0, 16).replace('T', ' ')} UTC in ${num(totalS / 60, 1)} min. Every figure below comes from this one run on this machine; figures are medians of ${c.runs} timed run${c.runs === 1 ? '' : 's'} with (min–max), after one untimed warm-up run of every workload on every system (for Meshwork's empty tasks, one job per node: see section 1). Ratios compare Meshwork with each system measured in the same run. Raw figures: \`${json}\`.`,
    '',
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${f.cpuModel}, ${f.cores} cores (os.cpus()) |`,
    `| memory | ${num(f.memoryGiB, 1)} GiB |`,
    `| OS | ${f.os} |`,
    `| Node | ${f.node} |`,
    `| load average (1/5/15 min) | before ${f.loadAvgBefore.map(x => x.toFixed(2)).join(' / ')}; after ${f.loadAvgAfter?.map(x => x.toFixed(2)).join(' / ') ?? '?'} |`,
    ...(f.cpuBusyBefore !== undefined ? [`| cores busy just before the run (2 s, /proc/stat) | ${num(f.cpuBusyBefore * 100, 0)} % |`] : []),
    `| Meshwork | ${f.packages.meshwork} at commit ${f.git.commit}${f.git.dirtySrc > 0 ? ` with ${f.git.dirtySrc} uncommitted file(s) under src/ (work in progress was measured)` : ''}; libp2p ${f.packages.libp2p}, noise ${f.packages['@chainsafe/libp2p-noise']}, yamux ${f.packages['@chainsafe/libp2p-yamux']} |`,
    `| baselines | piscina ${f.packages.piscina}, moleculer ${f.packages.moleculer}, bullmq ${f.packages.bullmq}, ioredis ${f.packages.ioredis}, redis-server ${f.redisServer} |`,
    '',
    busyAtStart(f)
      ? `> The machine was busy when this run started (${f.cpuBusyBefore !== undefined ? `${num(f.cpuBusyBefore * 100, 0)} % of the cores busy over the 2 s before it` : `1-minute load ${(f.loadAvgBefore[0] ?? 0).toFixed(2)} on ${f.cores} cores`}): other work competed for the same cores, so absolute figures are low and noisy; compare the systems with each other (ratios), and mind the min–max spreads.\n`
      : '',
    '## Targets (from issue 6; reported, not enforced)',
    '',
    '| target | measured (Meshwork, ' + c.headline + ' nodes) | |',
    '|---|---|---|',
    ...ts.map(t => `| ${t.name} | ${t.measured} | ${mark(t.met)} |`),
    '',
    ...(errors.length > 0 ? ['## Failures', '', ...errors.map(([id, e]) => `- \`${id}\`: ${e.split('\n')[0] ?? ''}`), ''] : []),
    ...incidents(results),
    '## Figures',
    '',
    charts.svg !== undefined ? `![benchmark chart](${charts.svg})${charts.png !== undefined ? ` (PNG: [${charts.png}](${charts.png}))` : ''}\n` : '',
    ...emptyTable(results, c),
    ...latencyTable(results, c),
    ...primesTable(results, c),
    ...wordsTable(results, c),
    ...scalingTables(results, c),
    ...(sandbox !== undefined ? renderSandboxSection(sandbox) : []),
    '## How each system was run',
    '',
    '- **Single process**: the job module\'s split, map and reduce called in a loop in the benchmark process (no I/O, no serialisation).',
    `- **piscina** ${f.packages.piscina}: one pool in the benchmark process, minThreads = maxThreads = ${c.cores} (one thread per core), run with concurrentTasksPerWorker ${c.piscinaConcurrency.join(' and ')}; both are shown. With the default 1 a thread is handed its next task only after it answered, so the pool idles between tasks on empty work; a higher value queues tasks on the thread. The CPU-bound target compares with the faster of the two.`,
    `- **Moleculer** ${f.packages.moleculer}: N broker processes, each with a \`bench.map\` action, plus a caller broker in the benchmark process; TCP transporter with \`udpDiscovery: false\`, a static \`urls\` list of 127.0.0.1:PORT/nodeID entries, the TCP server bound to 127.0.0.1 (Moleculer 0.14 binds every interface: its TcpReader.listen is patched in the benchmark's brokers) and 127.0.0.1 advertised as each node's only address (\`useHostname: false\`, local ipList replaced). Registry strategy \`CpuUsage\` (defaults: sampleCount 3, lowCpuUsage 10), JSON serializer, \`maxPacketSize\` raised to ${num(MOLECULER_MAX_PACKET_BYTES / 2 ** 20)} MiB for the word-count chunks (the default 1 MiB rejects them). Everything at once = all calls issued together. Before anything is measured the caller makes one call to each node in turn, so every TCP connection exists before a burst (Moleculer 0.14's TcpWriter opens a connection per packet to a node it has none for yet, then marks the node disconnected when the surplus closes, rejecting its pending requests).`,
    `- **BullMQ** ${f.packages.bullmq} on redis-server ${f.redisServer}: Redis started by the benchmark on a free 127.0.0.1 port with \`--save '' --appendonly no\`, stopped at the end; N worker processes with \`concurrency ${c.bullmqConcurrency}\` (Meshwork's per-node window), one Queue and one QueueEvents in the benchmark process. Each task is a job with a known id and \`removeOnComplete\`; it is done when QueueEvents delivers its \`completed\` event (with the return value). Everything at once = \`addBulk\` in batches of ${num(BULLMQ_ADD_BULK_BATCH)}; the events stream is trimmed between runs.`,
    `- **Meshwork** ${f.packages.meshwork}: \`LocalMesh.start({ nodes, fastTimers: false, logLevel: 'warn' })\` — real \`meshwork start\` processes on 127.0.0.1 with the default LAN timers, ${c.cores} slots (executor processes) each — waited on until every node sees every other alive; jobs submitted to node 0 with the programmatic client (\`buildSubmitRequest\`, POST /jobs, \`followJob\`: long polls answered as the job's record changes, at most one per ${POLL_MS} ms). Node 0 elects the coordinator; split and reduce run in executors.`,
    `- Workloads are the same modules for everybody: \`bench/jobs/empty.mjs\`, \`examples/primes.mjs\` (sized by a short calibration aiming at about ${num(c.primesTargetSeqMs / 1000, 1)} s in one process; table 2 has what it took), \`examples/wordcount.mjs\` over a corpus generated deterministically (Zipf-like draw, exponent 1.05, from a 30,000-word vocabulary: the bundled corpus's words, then synthetic ones; seed 42). Process counts ${c.sizes.join(', ')}; word count only at ${c.headline}.`,
    '- Order: single process, piscina, then for each process count Meshwork, Moleculer, BullMQ — one system at a time, the others stopped.',
    '',
    '### Reading these figures',
    '',
    '- Meshwork runs task code (and split and reduce) in executor processes reniced to 19, by design: on a desktop the owner comes first. Every other system here runs its work at the default priority. On an idle machine that costs nothing; when other work competes for the cores (see the load average above), Meshwork\'s executors get only what is left while the baselines take their share.',
    `- Parallel efficiency is measured against one single-process median on ${c.cores} cores. A figure above 1.0 cannot come from the work itself: it means the system got more CPU than the single-process run did, i.e. other load on the machine was sharing the cores, and more processes won a larger share of them.`,
    '- Latency columns measure different things per system (stated in each row); only Meshwork\'s is taken inside the system (at the coordinator), the others at the submitter, which includes the client library\'s own cost.',
    '',
    '## Reproduce',
    '',
    '```sh',
    'apt-get install redis-server     # Debian; .ci/run installs it when missing',
    `${c.command}`,
    '```',
    '',
  ]
  return lines.join('\n')
}

/**
 * Whether other work was running as the benchmark started: the cores' busy share just before it
 * where known (a load average still counts work that ended a minute ago), else the load average.
 */
function busyAtStart (f: MachineFacts): boolean {
  if (f.cpuBusyBefore !== undefined) return f.cpuBusyBefore > 0.25
  return f.loadAvgBefore[0] !== undefined && f.loadAvgBefore[0] > f.cores * 0.5
}
