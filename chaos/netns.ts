import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

// Private networks of Linux network namespaces for integration tests (root and iproute2 only).
//
//   ns <prefix>-br:   br0 ── p0 ── p1 ── … (bridge ports, one veth end per host)
//   ns <prefix>-a:    lo, eth0 = 10.213.X.1/24 (peer of p0), route 224.0.0.0/4 dev eth0
//   ns <prefix>-b:    lo, eth0 = 10.213.X.2/24 (peer of p1), …
//
// Every interface is created inside a namespace, so nothing appears in (or can clash with)
// the host's namespace, and deleting the namespaces removes every link. The multicast route
// matters: without it mDNS sends fail inside a namespace and nothing is discovered or logged.
// Multicast snooping is off on the bridge so multicast is flooded to every port.

const IP = 'ip'
const CMD_TIMEOUT_MS = 15_000

export interface NetnsHost {
  index: number
  /** Network namespace name, e.g. `mw-1234-a`. */
  ns: string
  /** The host's address on the bridge, e.g. `10.213.42.1`. */
  ip: string
  /** Interface name inside the host namespace. */
  ifname: string
  /** Name of this host's bridge port inside the bridge namespace. */
  bridgePort: string
}

export interface Network {
  prefix: string
  /** e.g. `10.213.42.0/24` */
  subnet: string
  bridgeNs: string
  hosts: NetnsHost[]
  /**
   * Silently drop unicast between hosts a and b, both ways (each gets a permanent ARP entry
   * for the other pointing at a MAC nobody owns). Multicast still flows, so mDNS still sees the
   * other side but TCP to it times out, like a partition that leaves the LAN segment up.
   */
  cut: (a: number, b: number) => Promise<void>
  /** Take host a's bridge port down: no unicast or multicast reaches or leaves it. */
  isolate: (a: number) => Promise<void>
  /** Undo every cut() and isolate(). */
  heal: () => Promise<void>
  /** Kill every process still in the namespaces, then delete them. Safe to call twice. */
  destroy: () => Promise<void>
}

export class NetnsUnavailableError extends Error {}

export interface ExecResult { stdout: string, stderr: string }

/** Run a command and return its output; reject with its stderr when it fails. */
export async function run (cmd: string, args: string[], opts: { timeoutMs?: number, input?: string } = {}): Promise<ExecResult> {
  return await new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? CMD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) {
        const e = err as NodeJS.ErrnoException & { code?: unknown, killed?: boolean }
        const why = e.code === 'ENOENT' ? `${cmd}: command not found` : (stderr.trim() || e.message)
        reject(Object.assign(new Error(`\`${[cmd, ...args].join(' ')}\` failed: ${why}`), { cause: err, stdout, stderr, errno: e.code }))
      } else {
        resolve({ stdout, stderr })
      }
    })
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })
}

/** Run a command inside a namespace (`ip netns exec NS cmd …`). */
export async function execIn (ns: string, cmd: string, args: string[], opts: { timeoutMs?: number, input?: string } = {}): Promise<ExecResult> {
  return await run(IP, ['netns', 'exec', ns, cmd, ...args], opts)
}

/**
 * Start a long-running command inside a namespace, in its own process group (detached), so
 * `killGroup(child.pid)` ends it and anything it started. `ip netns exec` execs the command in
 * place: the child's pid is the command's pid.
 */
export function spawnIn (ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(IP, ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore', ...opts, detached: true })
}

/** SIGKILL a process group; false when it was already gone. */
export function killGroup (pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (pid === undefined) return false
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

let curlAvailable: Promise<boolean> | undefined

/** GET a URL from inside a namespace (a control API on the namespace's own 127.0.0.1), with these headers. */
export async function httpGetIn (ns: string, url: string, timeoutMs = 3000, headers: Record<string, string> = {}): Promise<string> {
  curlAvailable ??= run('curl', ['--version']).then(() => true, () => false)
  if (await curlAvailable) {
    const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)))
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
    return (await execIn(ns, 'curl', ['-sS', '--fail', '--max-time', secs, ...h, url], { timeoutMs: timeoutMs + 2000 })).stdout
  }
  const script = 'fetch(process.argv[1], { headers: JSON.parse(process.argv[3]), signal: AbortSignal.timeout(Number(process.argv[2])) })' +
    '.then(async r => { const t = await r.text(); if (!r.ok) throw new Error(`HTTP ${r.status}: ${t}`); process.stdout.write(t) })' +
    '.catch(e => { process.stderr.write(String(e?.message ?? e)); process.exit(1) })'
  return (await execIn(ns, process.execPath, ['-e', script, url, String(timeoutMs), JSON.stringify(headers)], { timeoutMs: timeoutMs + 5000 })).stdout
}

export async function listNamespaces (): Promise<string[]> {
  const { stdout } = await run(IP, ['netns', 'list'])
  // Lines look like `name` or `name (id: 3)`.
  return stdout.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => n !== '')
}

async function pidsIn (ns: string): Promise<number[]> {
  try {
    const { stdout } = await run(IP, ['netns', 'pids', ns])
    return stdout.split(/\s+/).filter(s => s !== '').map(Number).filter(n => Number.isInteger(n) && n > 0)
  } catch {
    return []
  }
}

/** Kill whatever still runs in a namespace, then delete it (`ip netns del` alone leaves a namespace with live processes behind). */
export async function deleteNamespace (ns: string): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const pids = (await pidsIn(ns)).filter(p => p !== process.pid)
    if (pids.length === 0) break
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in namespace ${ns} would not die`)
    await sleep(50)
  }
  try {
    await run(IP, ['netns', 'del', ns])
  } catch (err) {
    if ((await listNamespaces()).includes(ns)) throw err
  }
}

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Delete namespaces named `<tag>-<pid>-…` whose creating process is gone (left behind by a
 * crashed or killed run), with anything still running in them. Namespaces of live test
 * processes are left alone, so parallel runs do not clobber each other.
 */
export async function removeStaleNetworks (tag = 'mw'): Promise<string[]> {
  const pattern = new RegExp(`^${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-`)
  let names: string[]
  try {
    names = await listNamespaces()
  } catch {
    return [] // no iproute2: createNetwork reports that clearly
  }
  const stale = names.filter(n => {
    const pid = Number(pattern.exec(n)?.[1])
    return Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)
  })
  for (const ns of stale) await deleteNamespace(ns)
  return stale
}

/** `mw-<pid>` for the first network of this process, `mw-<pid>-2`, … after that. */
let networksMade = 0
export function uniquePrefix (tag = 'mw'): string {
  networksMade++
  return networksMade === 1 ? `${tag}-${process.pid}` : `${tag}-${process.pid}-${networksMade}`
}

// --- subnet choice -------------------------------------------------------------------------

function ipToInt (ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc * 256) + Number(o), 0)
}

function overlaps (a: string, b: string): boolean {
  const [ipa = '', la = '32'] = a.split('/')
  const [ipb = '', lb = '32'] = b.split('/')
  const len = Math.min(Number(la), Number(lb))
  if (len === 0) return true
  const shift = 32 - len
  return Math.floor(ipToInt(ipa) / 2 ** shift) === Math.floor(ipToInt(ipb) / 2 ** shift)
}

/** Prefixes the host already uses (addresses and routes, except the default route). */
async function hostPrefixes (): Promise<string[]> {
  const out: string[] = []
  try {
    const addrs = (await run(IP, ['-4', '-o', 'addr', 'show'])).stdout
    for (const m of addrs.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) out.push(m[1] as string)
    const routes = (await run(IP, ['-4', 'route', 'show', 'table', 'all'])).stdout
    for (const line of routes.split('\n')) {
      const dest = line.trim().split(/\s+/).find(t => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(t))
      if (dest !== undefined && !line.trim().startsWith('default')) out.push(dest.includes('/') ? dest : `${dest}/32`)
    }
  } catch { /* no iproute2: createNetwork reports that */ }
  return out
}

/** A 10.213.X.0/24 the host does not use, X derived from `seed` (the pid by default). */
export async function pickSubnet (seed = process.pid): Promise<string> {
  const used = await hostPrefixes()
  for (let i = 0; i < 256; i++) {
    const candidate = `10.213.${(seed + i) % 256}.0/24`
    if (!used.some(p => overlaps(p, candidate))) return candidate
  }
  throw new Error('no free 10.213.X.0/24 subnet for a test network')
}

// --- the network ---------------------------------------------------------------------------

function hostLabel (i: number): string {
  return i < 26 ? String.fromCharCode(97 + i) : `h${i}`
}

export interface CreateNetworkOptions {
  /** `a.b.c.0/24`; chosen from the pid when omitted. */
  subnet?: string
}

/**
 * Create `hostCount` namespaces `<prefix>-a`, `<prefix>-b`, … joined by one bridge in
 * `<prefix>-br`. Throws NetnsUnavailableError (with the reason) when namespaces cannot be
 * created: not root, or no iproute2.
 */
export async function createNetwork (prefix: string, hostCount: number, opts: CreateNetworkOptions = {}): Promise<Network> {
  if (hostCount < 1 || hostCount > 250) throw new Error(`hostCount must be 1…250, not ${hostCount}`)
  const subnet = opts.subnet ?? await pickSubnet()
  const base = subnet.split('/')[0]?.split('.').slice(0, 3).join('.') ?? ''
  const bridgeNs = `${prefix}-br`
  const hosts: NetnsHost[] = Array.from({ length: hostCount }, (_, i) => ({
    index: i, ns: `${prefix}-${hostLabel(i)}`, ip: `${base}.${i + 1}`, ifname: 'eth0', bridgePort: `p${i}`,
  }))
  const all = [bridgeNs, ...hosts.map(h => h.ns)]
  const created: string[] = []
  const cuts = new Set<string>()
  const isolated = new Set<number>()
  let destroyed: Promise<void> | undefined

  const destroy = async (): Promise<void> => {
    destroyed ??= (async () => {
      const errors: unknown[] = []
      for (const ns of [...created].reverse()) {
        try { await deleteNamespace(ns) } catch (err) { errors.push(err) }
      }
      if (errors.length > 0) throw new AggregateError(errors, `could not delete every namespace of ${prefix}`)
    })()
    await destroyed
  }

  const ipn = async (ns: string, ...args: string[]): Promise<void> => { await run(IP, ['-n', ns, ...args]) }

  try {
    // Same names left over in this process (an earlier failed run of the same file)?
    const existing = await listNamespacesOrExplain()
    for (const ns of all) if (existing.includes(ns)) await deleteNamespace(ns)
    for (const ns of all) {
      try {
        await run(IP, ['netns', 'add', ns])
      } catch (err) {
        throw new NetnsUnavailableError(
          `Cannot create network namespace ${ns}: ${(err as Error).message}. ` +
          'This test needs root and iproute2 (`ip netns add`); CI runs it as root after .ci/run installs iproute2.',
          { cause: err })
      }
      created.push(ns)
    }
    await ipn(bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
    await ipn(bridgeNs, 'link', 'set', 'br0', 'up')
    for (const h of hosts) {
      await ipn(bridgeNs, 'link', 'add', h.bridgePort, 'type', 'veth', 'peer', 'name', h.ifname, 'netns', h.ns)
      await ipn(bridgeNs, 'link', 'set', h.bridgePort, 'master', 'br0')
      await ipn(bridgeNs, 'link', 'set', h.bridgePort, 'up')
      await ipn(h.ns, 'link', 'set', 'lo', 'up')
      await ipn(h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', h.ifname)
      await ipn(h.ns, 'link', 'set', h.ifname, 'up')
      await ipn(h.ns, 'route', 'add', '224.0.0.0/4', 'dev', h.ifname)
    }
  } catch (err) {
    await destroy().catch(() => {})
    throw err
  }

  const host = (i: number): NetnsHost => {
    const h = hosts[i]
    if (h === undefined) throw new Error(`no host ${i} in network ${prefix}`)
    return h
  }
  const NOBODY = '02:00:00:00:00:00'

  return {
    prefix,
    subnet,
    bridgeNs,
    hosts,
    cut: async (a, b) => {
      const [ha, hb] = [host(a), host(b)]
      await ipn(ha.ns, 'neigh', 'replace', hb.ip, 'lladdr', NOBODY, 'dev', ha.ifname, 'nud', 'permanent')
      cuts.add(`${a}>${b}`)
      await ipn(hb.ns, 'neigh', 'replace', ha.ip, 'lladdr', NOBODY, 'dev', hb.ifname, 'nud', 'permanent')
      cuts.add(`${b}>${a}`)
    },
    isolate: async (a) => {
      await ipn(bridgeNs, 'link', 'set', host(a).bridgePort, 'down')
      isolated.add(a)
    },
    heal: async () => {
      for (const key of [...cuts]) {
        const [a, b] = key.split('>').map(Number) as [number, number]
        await ipn(host(a).ns, 'neigh', 'del', host(b).ip, 'dev', host(a).ifname).catch(() => {})
        cuts.delete(key)
      }
      for (const a of [...isolated]) {
        await ipn(bridgeNs, 'link', 'set', host(a).bridgePort, 'up')
        isolated.delete(a)
      }
    },
    destroy,
  }
}

async function listNamespacesOrExplain (): Promise<string[]> {
  try {
    return await listNamespaces()
  } catch (err) {
    throw new NetnsUnavailableError(
      `Cannot list network namespaces: ${(err as Error).message}. ` +
      'This test needs root and iproute2 (`ip netns`); CI runs it as root after .ci/run installs iproute2.',
      { cause: err })
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
