import { Option, type Command } from 'commander'
import type { JobRecord } from '../../jobs/job-spec.js'
import { MeshClient, type ClientOptions } from './client.js'
import { useColourOn } from './format.js'
import { checkValue, durationValue } from './start-options.js'
import type { StatusView } from './status-view.js'
import { renderTop, type TopSnapshot } from './top-view.js'

// `meshwork top`: the mesh and its jobs, refreshed in place on a terminal (the alternate
// screen, redrawn with ANSI cursor moves; no curses). Off a terminal, or with --once, one
// plain frame; with --json, one snapshot { status, jobs }.

export interface TopOptions extends ClientOptions {
  interval: number
  /** The old name of --interval (its bare number is ms too). */
  intervalMs?: number
  once?: boolean
  json?: boolean
}

export function registerTopCommand (program: Command, addClientOptions: (cmd: Command) => Command): void {
  addClientOptions(program.command('top')
    .description('A live view of the mesh and its jobs in the terminal (q or Ctrl-C to quit).'))
    .addOption(new Option('--interval <duration>', 'refresh period (e.g. 500ms, 2s)').argParser((v: string) => checkValue(durationValue(100, 60_000), '--interval', v) as number).default(1000, '1s'))
    .addOption(new Option('--interval-ms <ms>', 'old name of --interval').hideHelp().argParser((v: string) => checkValue(durationValue(100, 60_000), '--interval-ms', v) as number))
    .option('--once', 'print one frame and exit (the default when stdout is not a terminal)')
    .option('--json', 'print one snapshot { status, jobs } as JSON and exit')
    .addHelpText('after', `
Examples:
  meshwork top
  meshwork top --api http://127.0.0.1:7070 --interval 500ms
  meshwork top --once | less`)
    .action(topCommand)
}

export async function topCommand (opts: TopOptions): Promise<void> {
  const client = MeshClient.fromOptions(opts)
  if (opts.json === true) {
    const [status, jobs] = await Promise.all([client.get<StatusView>('/status'), client.get<{ jobs: JobRecord[] }>('/jobs')])
    process.stdout.write(JSON.stringify({ status, jobs: jobs.jobs }) + '\n')
    return
  }
  const out = process.stdout
  if (opts.once === true || out.isTTY !== true) {
    // One frame: a failure is the command's error (with its exit code), not a line on the screen.
    const [status, jobs] = await Promise.all([client.get<StatusView>('/status'), client.get<{ jobs: JobRecord[] }>('/jobs')])
    const snap: TopSnapshot = { apiUrl: client.baseUrl, status, jobs: jobs.jobs, nowMs: Date.now() }
    out.write(renderTop(snap, { columns: out.columns ?? 200, rows: 10_000, colour: useColourOn(out), interactive: false }).join('\n') + '\n')
    return
  }
  await interactive(client, opts.intervalMs ?? opts.interval)
}

async function refresh (client: MeshClient, last: TopSnapshot): Promise<TopSnapshot> {
  try {
    const [status, jobs] = await Promise.all([client.get<StatusView>('/status'), client.get<{ jobs: JobRecord[] }>('/jobs')])
    return { apiUrl: client.baseUrl, status, jobs: jobs.jobs, nowMs: Date.now() }
  } catch (err) {
    const { error: _old, ...rest } = last
    return { ...rest, error: (err as Error).message, nowMs: Date.now() }
  }
}

async function interactive (client: MeshClient, intervalMs: number): Promise<void> {
  const out = process.stdout
  const stdin = process.stdin
  let snap: TopSnapshot = { apiUrl: client.baseUrl, nowMs: Date.now() }
  let stop: () => void = () => {}
  const stopped = new Promise<void>(resolve => { stop = resolve })
  let wake: () => void = () => {}

  const draw = (): void => {
    const lines = renderTop(snap, { columns: out.columns ?? 80, rows: out.rows ?? 24, colour: useColourOn(out), interactive: true })
    // Home, each line cleared to its end, then everything below cleared: no flicker, no scrolling.
    out.write(`\x1b[H${lines.map(l => `${l}\x1b[K`).join('\r\n')}\x1b[J`)
  }
  const onKey = (data: Buffer): void => {
    const key = data.toString('utf8')
    if (key === 'q' || key === 'Q' || key === '\x03' || key === '\x04') stop()
    else if (key === ' ' || key === 'r') wake()
  }
  const onSignal = (): void => stop()
  const onResize = (): void => draw()

  out.write('\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J') // alternate screen, hide the cursor
  const rawBefore = stdin.isTTY === true ? stdin.isRaw : false
  if (stdin.isTTY === true) stdin.setRawMode(true)
  stdin.on('data', onKey)
  stdin.resume()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  out.on('resize', onResize)
  try {
    let done = false
    void stopped.then(() => { done = true; wake() })
    while (!done) {
      snap = await refresh(client, snap)
      if (done) break
      draw()
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, intervalMs)
        wake = () => { clearTimeout(timer); resolve() }
      })
    }
  } finally {
    out.off('resize', onResize)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    stdin.off('data', onKey)
    if (stdin.isTTY === true) stdin.setRawMode(rawBefore)
    stdin.pause()
    out.write('\x1b[?25h\x1b[?1049l') // cursor back, main screen back
  }
}
