import { median } from '../stats.js'
import { SANDBOX_CONFIGS, type SandboxConfigId, type SandboxFigures } from './sandbox-cost.js'

// The "Sandbox cost" section of BENCHMARKS.md (issue 21), from one measurement's figures.

export const SANDBOX_HEADING = '## Sandbox cost'
/** The issue's target: with the sandbox, within 10 % of no sandbox. */
const TARGET = 0.10

const nf = (digits: number) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const num = (v: number | undefined, digits = 0): string => v === undefined || !Number.isFinite(v) ? '–' : nf(digits).format(v)
const med = (xs: number[] | undefined): number | undefined => xs === undefined || xs.length === 0 ? undefined : median(xs)
const spread = (xs: number[] | undefined, digits = 0): string =>
  xs === undefined || xs.length === 0 ? '–' : xs.length === 1 ? num(xs[0], digits) : `${num(median(xs), digits)} (${num(Math.min(...xs), digits)}–${num(Math.max(...xs), digits)})`
const times = (r: number | undefined): string => r === undefined || !Number.isFinite(r) ? '–' : `${r.toFixed(2)}×`
const signed = (v: number | undefined, digits = 0): string => v === undefined || !Number.isFinite(v) ? '–' : num(Math.abs(v), digits) === num(0, digits) ? `±${num(0, digits)}` : `${v >= 0 ? '+' : '−'}${num(Math.abs(v), digits)}`
const pct = (r: number | undefined): string => r === undefined || !Number.isFinite(r) ? '–' : Math.abs(r - 1) < 0.0005 ? '±0.0 %' : `${r >= 1 ? '+' : '−'}${Math.abs((r - 1) * 100).toFixed(1)} %`

/** For a time (lower is better): met when at most 10 % longer. For a rate: met when at most 10 % lower. */
const verdict = (r: number | undefined, kind: 'time' | 'rate'): string =>
  r === undefined || !Number.isFinite(r) ? 'not measured' : (kind === 'time' ? r <= 1 + TARGET : r >= 1 - TARGET) ? '**met**' : '**missed**'

export function renderSandboxSection (f: SandboxFigures): string[] {
  const rows = SANDBOX_CONFIGS
  const ref = (m: Partial<Record<SandboxConfigId, number[]>>): number | undefined => med(m.none)
  const startRef = ref(f.startMs)
  const tpsRef = ref(f.tps)
  const startOf = (id: SandboxConfigId): number | undefined => med(f.startMs[id])
  const tpsOf = (id: SandboxConfigId): number | undefined => med(f.tps[id])
  const r = (a: number | undefined, b: number | undefined): number | undefined => a === undefined || b === undefined || b === 0 ? undefined : a / b
  const skipped = Object.entries(f.skipped).map(([id, why]) => `- \`${id}\` not measured: ${why}`)

  const bwStart = startOf('bwrap')
  const pmStart = startOf('permission')
  const bareStart = startOf('bare')
  const nodeMs = med(f.processMs.node)
  const boxMs = med(f.processMs.bwrapNode)
  const bwTps = r(tpsOf('bwrap'), tpsRef)
  const pmTps = r(tpsOf('permission'), tpsRef)

  const lines = [
    `${SANDBOX_HEADING} (issue 21)`,
    '',
    `Measured by \`${f.command}\`${f.quick ? ' (quick: fewer starts and tasks; not for comparison)' : ''} on ${f.date.slice(0, 16).replace('T', ' ')} UTC in ${num(f.totalS, 0)} s: ${f.cores} cores, load average ${f.loadAvgBefore.map(x => x.toFixed(2)).join(' / ')} before and ${f.loadAvgAfter.map(x => x.toFixed(2)).join(' / ')} after; ${f.bwrap}; memory cap ${f.memoryCap} (every row but the last reference row). Through the public \`ExecutorPool\` API in one process, \`bench/jobs/empty.mjs\`, executors at niceness ${f.niceness}${f.niceness !== 19 ? ' (a node runs them at 19, under ionice idle, in every configuration alike: at 19 these figures would mostly measure whatever else runs on the machine)' : ''}. The configurations take turns (one start, or one run, of each; the order rotated each round), so that other load on the machine falls on all of them alike.`,
    '',
    ...(skipped.length > 0 ? [...skipped, ''] : []),
    `### Executor start: spawn → first task done`,
    '',
    `A new pool of 1 slot each time, from its constructor to the outcome of its first empty task: the memory-cap shell, \`ionice\`/\`nice\`, bubblewrap where used, Node's start with the permission flags, the executor's \`ready\`, importing the job module, one task. Median (min–max) of ${f.starts} starts per configuration, after one untimed start of each.`,
    '',
    '| configuration | start ms, median (min–max) | ÷ no sandbox | difference | within 10 % of no sandbox | an executor\'s processes (checked) |',
    '|---|---:|---:|---:|---|---|',
    ...rows.filter(c => f.startMs[c.id] !== undefined).map(c => {
      const ratio = r(startOf(c.id), startRef)
      return `| ${c.label} | ${spread(f.startMs[c.id])} | ${times(ratio)} | ${c.id === 'none' ? '–' : `${signed((startOf(c.id) ?? NaN) - (startRef ?? NaN))} ms`} | ${c.id === 'none' ? '(reference)' : verdict(ratio, 'time')} | ${f.tree?.[c.id] !== undefined ? `\`${f.tree[c.id]}\`` : '–'} |`
    }),
    '',
    ...(nodeMs !== undefined && boxMs !== undefined
      ? [`Of that, bubblewrap itself: \`node -e 0\` takes ${spread(f.processMs.node)} ms from spawn to exit here, and ${spread(f.processMs.bwrapNode)} ms inside \`bwrap\` with an executor's arguments (new user, PID, IPC, UTS, cgroup and network namespaces, the read-only binds, private /proc, /dev and /tmp): **${num(boxMs - nodeMs, 0)} ms** of namespace and mount setup per executor, before Node runs a line${bwStart !== undefined && pmStart !== undefined ? ` — against the ${num(bwStart - pmStart, 0)} ms a boxed executor's start took over the permission model alone` : ''}.`, '']
      : []),
    '### Empty-task throughput, warm executors',
    '',
    `A pool of ${f.slots} slots per configuration, warmed up (${num(Math.min(f.tasks, 5000))} tasks: every executor started and the module loaded; then two untimed rounds of full runs, for this process's JIT and heap), then ${num(f.tasks)} empty tasks submitted at once (\`pool.run\` each), timed from the first submission to the last outcome. Median (min–max) of ${f.runs} runs per configuration.`,
    '',
    '| configuration | tasks/s, median (min–max) | ÷ no sandbox | difference | within 10 % of no sandbox (issue 21 target) | CPU µs per task, median (min–max) | ÷ no sandbox |',
    '|---|---:|---:|---:|---|---:|---:|',
    ...rows.filter(c => f.tps[c.id] !== undefined).map(c => {
      const ratio = r(tpsOf(c.id), tpsRef)
      const cpu = f.cpuUsPerTask?.[c.id]
      return `| ${c.label} | ${spread(f.tps[c.id])} | ${times(ratio)} | ${c.id === 'none' ? '–' : pct(ratio)} | ${c.id === 'none' ? '(reference)' : verdict(ratio, 'rate')} | ${spread(cpu, 1)} | ${times(r(med(cpu), med(f.cpuUsPerTask?.none)))} |`
    }),
    '',
    'CPU µs per task: this process\'s CPU time (the pool, as in a daemon) plus that of every process of the executors (/proc, in 10 ms ticks), over the run, ÷ tasks. The rate moves with whatever else the machine is doing, the CPU time a task costs much less so; it says whether the sandbox adds work per task (within the ticks\' resolution: a few % at these run lengths).',
    '',
  ]
  const newRef = med(f.newCodeMs?.none)
  if (f.newCodeMs !== undefined && Object.keys(f.newCodeMs).length > 0) {
    lines.push(
      '### A short job of new code on the warm pool',
      '',
      `After the throughput runs, on the same warm pools: ${f.newCodeTasks} empty tasks of a module the pool has not run (a copy of the empty job with its own file and scratch dir, as a node gives each code its workspace), submitted at once and timed to the last outcome. With a sandbox (either kind) an executor's permissions name its code's files, so a pool runs new code only in new executors: its ${f.slots} slots are restarted for it. Without one, the running executors import the module and go on. Median (min–max) of ${f.runs} jobs per configuration, each of new code.`,
      '',
      '| configuration | ms, median (min–max) | ÷ no sandbox | difference |',
      '|---|---:|---:|---:|',
      ...rows.filter(c => f.newCodeMs[c.id] !== undefined).map(c => {
        const v = med(f.newCodeMs[c.id])
        return `| ${c.label} | ${spread(f.newCodeMs[c.id])} | ${times(r(v, newRef))} | ${c.id === 'none' ? '–' : `${signed((v ?? NaN) - (newRef ?? NaN))} ms`} |`
      }),
      '',
    )
  }

  const m = f.mesh
  if (m !== undefined) {
    const mt = (mode: 'bwrap' | 'none'): number | undefined => med(m.tps[mode])
    const ms = (mode: 'bwrap' | 'none'): number | undefined => med(m.newCodeMs[mode])
    const tr = r(mt('bwrap'), mt('none'))
    const sr = r(ms('bwrap'), ms('none'))
    lines.push(
      `### ${m.nodes}-node mesh: \`meshwork start --sandbox bwrap\` against \`--sandbox none\``,
      '',
      `Two local meshes of real \`meshwork start\` processes (default LAN timers, as in section 1), both up; jobs submitted to node 0 as in section 1 and timed at the client, alternating between the two meshes: every warm job first, then the new-code jobs (a job of other code in between would take a sandboxed node's executors to its own profile). \`--sandbox none\` is no sandbox at all (no permission model either). Warm: an empty-task job of ${num(m.tasks)} tasks whose code every node has run (after warm-up jobs until every node coordinated one). New code: a ${m.shortTasks}-task empty job whose module no node has seen (a copy with its own code hash): under the sandbox an executor serves one code's profile, so this job waits for new executors; without it the running ones take any code. Median (min–max) of ${m.runs} jobs each.`,
      '',
      '| `meshwork start` | warm empty-task job, tasks/s | ÷ `--sandbox none` | within 10 % | the same measured by the node | new-code short job, ms | ÷ `--sandbox none` |',
      '|---|---:|---:|---|---:|---:|---:|',
      `| \`--sandbox none\` | ${spread(m.tps.none)} | – | (reference) | ${spread(m.nodeTps?.none)} | ${spread(m.newCodeMs.none)} | – |`,
      `| **\`--sandbox bwrap\`** (the default) | ${spread(m.tps.bwrap)} | ${times(tr)} | ${verdict(tr, 'rate')} | ${spread(m.nodeTps?.bwrap)} | ${spread(m.newCodeMs.bwrap)} | ${times(sr)} |`,
      '',
      ...(m.error !== undefined ? [`The mesh comparison stopped early: ${m.error}`, ''] : []),
    )
  }

  // What the figures say, from the figures.
  const startRatio = r(bwStart, startRef)
  const said: string[] = []
  const newBw = med(f.newCodeMs?.bwrap)
  const newPm = med(f.newCodeMs?.permission)
  const bareTps = r(tpsOf('bare'), tpsRef)
  const noise = bareTps !== undefined ? Math.abs(bareTps - 1) : undefined
  const cpuR = r(med(f.cpuUsPerTask?.bwrap), med(f.cpuUsPerTask?.none))
  const cpuSaid = cpuR !== undefined ? ` CPU time per task: ${times(cpuR)} of no sandbox (${pct(cpuR)}; ${num(med(f.cpuUsPerTask?.bwrap), 1)} against ${num(med(f.cpuUsPerTask?.none), 1)} µs).` : ''
  if (bwTps !== undefined) {
    const within = noise !== undefined && Math.abs(bwTps - 1) <= noise ? ', no further from it than the reference row without the memory-cap shell, which differs in nothing on a task\'s path: not measurably different' : ''
    said.push(bwTps >= 1 - TARGET
      ? `- **Throughput: target met.** Warm executors in the sandbox ran empty tasks at ${times(bwTps)} the rate of executors without one (${pct(bwTps)}${within}; the permission model alone ${pct(pmTps)}). An executor is started once and then runs task after task over its IPC channel, which bubblewrap does not relay; the permission model checks file system, child-process and worker calls, which an empty task does not make.${cpuSaid}`
      : `- **Throughput: target missed** — ${times(bwTps)} of no sandbox (${pct(bwTps)}${within}; the permission model alone ${pct(pmTps)}). Warm executors do not pass through bubblewrap per task, so a gap this size is most likely noise (see the min–max spreads, the reference row and the load average) or executors restarted during the runs; measure again on a quiet machine before believing it.${cpuSaid}`)
  }
  const cpuRef = r(med(f.cpuUsPerTask?.bare), med(f.cpuUsPerTask?.none))
  const cpuNoiseSaid = cpuRef === undefined || noise === undefined
    ? ''
    : ` The reference row's CPU time per task is ${pct(cpuRef)} off${Math.abs(cpuRef - 1) < noise ? ', closer than its rate' : ', no closer than its rate: at this run length the 10 ms ticks of /proc, read per process, weigh in'}.`
  if (noise !== undefined) said.push(`- How far to trust the throughput ratios: the reference row's executors differ from the no-sandbox ones only in how they were started (no memory-cap shell), so its ${pct(bareTps)} is this measurement's own noise here (runs of a fraction of a second on ${f.cores} shared cores; load average above). Differences of that size are not a finding — and it is the least noise to expect, not the most.${cpuNoiseSaid}`)
  if (startRatio !== undefined) {
    const extra = `${signed((bwStart ?? NaN) - (startRef ?? NaN))} ms per executor; the permission model alone: ${signed((pmStart ?? NaN) - (startRef ?? NaN))} ms`
    const setup = nodeMs !== undefined && boxMs !== undefined ? ` (${signed(boxMs - nodeMs)} ms on a bare \`node -e 0\`, above, whose own start takes ${num(nodeMs, 0)} ms)` : ''
    const why = `bubblewrap's setup${setup}: the namespaces, the mount tree of read-only binds, and two more processes (a bwrap outside that watches, one as PID 1 inside), each time an executor starts`
    const steadier = nodeMs !== undefined && boxMs !== undefined && bareStart !== undefined && startRef !== undefined
      ? ` Whole starts vary from run to run by more than that (the two rows without a sandbox differ by ${signed(bareStart - startRef)} ms here, though only a shell's exec sets them apart); the bare-process pair, timed back to back, is the steadier figure of what bubblewrap adds: ${signed(boxMs - nodeMs)} ms, ${pct(boxMs / nodeMs)} of a bare Node start.`
      : ''
    const when = 'It is paid once per executor — when a node starts, when a job of code without executors of its own arrives (next point), after a task killed its executor — never per task.'
    said.push(startRatio <= 1 + TARGET
      ? `- **Start time: within 10 %** — ${times(startRatio)} of no sandbox (${extra}). The issue sets no target for start time; 10 % is the yardstick here too. What the sandbox adds is ${why}: small next to Node's own start and the executor's.${steadier} ${when}`
      : `- **Start time: not within 10 %** — ${times(startRatio)} of no sandbox (${extra}). The issue sets no target for start time; 10 % is the yardstick here too. The difference is ${why}.${steadier} ${when}`)
  }
  if (newBw !== undefined && newRef !== undefined) {
    said.push(`- **Where starts show: a job of code the node has not run lately.** ${f.newCodeTasks} empty tasks of new code took ${num(newBw, 0)} ms in the sandbox against ${num(newRef, 0)} ms without one (${signed(newBw - newRef)} ms; the permission model alone ${num(newPm, 0)} ms): an executor's permissions name its code's files, so the pool restarts its executors for that code, and the job waits for a start. That is the permission model's doing, and was so before bubblewrap (its grants were per code already)${newPm !== undefined && newBw > newPm ? `; bubblewrap adds its setup to each of those starts (${signed(newBw - newPm)} ms here)` : newPm !== undefined ? `; bubblewrap's own setup is lost in the noise of these jobs here (its row is not above the permission model's)` : ''}. Kept idle executors (\`--idle-executors\`, default twice the slots, 60 s) make the next job of the same code warm again.`)
  }
  if (m !== undefined) {
    const tr = r(med(m.tps.bwrap), med(m.tps.none))
    const overlap = m.tps.bwrap !== undefined && m.tps.none !== undefined && Math.min(...m.tps.bwrap) <= Math.max(...m.tps.none) && Math.min(...m.tps.none) <= Math.max(...m.tps.bwrap)
    const nb = med(m.newCodeMs.bwrap)
    const nn = med(m.newCodeMs.none)
    if (tr !== undefined) {
      said.push(`- **On the ${m.nodes}-node mesh** warm empty-task jobs ran at ${times(tr)} of \`--sandbox none\` (${pct(tr)}): target ${tr >= 1 - TARGET ? 'met' : 'missed'}${overlap ? `, but the two ranges overlap: from one job to the next the rate varies ${num(Math.max(...(m.tps.none as number[])) / Math.min(...(m.tps.none as number[])), 1)}-fold without the sandbox and ${num(Math.max(...(m.tps.bwrap as number[])) / Math.min(...(m.tps.bwrap as number[])), 1)}-fold with it here, so ${m.runs} jobs each cannot resolve 10 %; the pool measurement above, with the same executors and none of the mesh, is the precise one` : ''}. The short job of new code took ${num(nb, 0)} ms against ${num(nn, 0)} ms (${signed((nb ?? NaN) - (nn ?? NaN))} ms): on every node it runs on the executors are restarted for the new code before its split, its tasks and its reduce can run (all three run in executors), at niceness 19 behind the daemons, so a start costs more there than in the pool measurement above. \`--sandbox none\` also drops the permission model, so this row is the whole sandbox's cost, not bubblewrap's alone.`)
    }
  }
  if (bareStart !== undefined && startRef !== undefined) said.push(`- The memory-cap shell (\`/bin/sh -c\` joining the executor's cgroup, or \`ulimit -v\`, then \`exec\`) is in every configuration but the reference row; starts without it took ${signed(bareStart - startRef)} ms against no sandbox.`)
  if (said.length > 0) lines.push('### What this means', '', ...said, '')
  lines.push(
    'Reproduce (alone, about half a minute with `--quick`; the mesh part is on by default without it):',
    '',
    '```sh',
    'apt-get install bubblewrap       # Debian; .ci/run installs it',
    'npx tsc -p tsconfig.json && node dist/bench/sandbox.js [--quick] [--starts N] [--tasks N] [--runs N] [--no-mesh] [--write]',
    '```',
    '',
    '`--write` puts this section into BENCHMARKS.md in place of the last one; `npm run bench` measures it too (`--only sandbox` for this part alone).',
    '',
  )
  return lines
}

/**
 * `md` with its "Sandbox cost" section replaced by `section` (up to the next `## ` heading), or
 * `section` inserted before "## How each system was run" (else appended): the rest stays as it is.
 */
export function spliceSandboxSection (md: string, section: string): string {
  const lines = md.split('\n')
  const start = lines.findIndex(l => l.startsWith(SANDBOX_HEADING))
  const body = section.endsWith('\n') ? section.slice(0, -1).split('\n') : section.split('\n')
  if (start >= 0) {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '))
    if (end < 0) end = lines.length
    return [...lines.slice(0, start), ...body, ...lines.slice(end)].join('\n')
  }
  const before = lines.findIndex(l => l.startsWith('## How each system was run'))
  if (before >= 0) return [...lines.slice(0, before), ...body, ...lines.slice(before)].join('\n')
  return `${md.replace(/\n*$/, '\n\n')}${body.join('\n')}\n`
}
