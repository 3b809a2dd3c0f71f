// The OS sandbox of an executor: bubblewrap (bwrap). New user, PID, mount, IPC, UTS and (unless the
// job may use it) network namespaces; a root made of read-only binds of the system's programs and
// libraries, Node, the executor's own code and the job's module; the code's workspace read-write;
// private /tmp, /proc and /dev. Nothing else of the host — the data dir, $HOME, the daemon — exists
// inside. --die-with-parent: the sandbox dies with the daemon.
import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Sandbox } from './sandbox.js'

export const BWRAP = 'bwrap'

/** Top-level system dirs: bound read-only where they are dirs, recreated where they are symlinks (merged /usr). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']
/**
 * What under /etc a program may need: the loader cache, the time zone, and the alternatives
 * (Debian's /usr/bin/cc is a link through /etc/alternatives). Not passwd, not shadow.
 */
const ETC_ALWAYS = ['/etc/ld.so.cache', '/etc/localtime', '/etc/alternatives']
/** ... and for a job that may use the network: name resolution and certificates. */
const ETC_NETWORK = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/pki']

export interface BwrapPaths {
  /** The Node binary the executor runs. */
  nodePath: string
  /** The package.json that tells Node the executor's .js files are ES modules. */
  packageJson: string | undefined
}

/** The bwrap arguments (up to and including `--`) that box one executor of `sandbox`'s profile. */
export function bwrapArgs (sandbox: Sandbox, paths: BwrapPaths): string[] {
  const args = [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(sandbox.network ? ['--share-net'] : ['--unshare-net']),
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--hostname', 'meshwork-task',
  ]
  for (const dir of SYSTEM_DIRS) {
    const st = lstatOrUndefined(dir)
    if (st === undefined) continue
    if (st.isSymbolicLink()) args.push('--symlink', readLink(dir), dir)
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir)
  }
  for (const file of [...ETC_ALWAYS, ...(sandbox.network ? ETC_NETWORK : [])]) if (existsSync(file)) args.push('--ro-bind', file, file)
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp')
  // Node installed outside /usr (nvm, /opt): its own prefix, read-only.
  const node = realpathSync(paths.nodePath)
  if (!SYSTEM_DIRS.some(d => node.startsWith(`${d}/`))) args.push('--ro-bind', dirname(dirname(node)), dirname(dirname(node)))
  if (paths.nodePath !== node) args.push('--ro-bind', node, paths.nodePath)
  if (paths.packageJson !== undefined) args.push('--ro-bind', paths.packageJson, paths.packageJson)
  // The permission model's grants are the binds: what it may read exists read-only, what it may
  // write exists read-write; the same paths inside as outside.
  const writable = new Set(sandbox.fsWrite)
  for (const p of sandbox.fsRead) if (!writable.has(p) && existsSync(p)) args.push('--ro-bind', p, p)
  for (const p of sandbox.fsWrite) if (existsSync(p)) args.push('--bind', p, p)
  if (sandbox.home !== undefined) args.push('--chdir', sandbox.home)
  args.push('--')
  return args
}

export type BwrapProbe = { ok: true, version: string } | { ok: false, reason: string }

/**
 * Whether bubblewrap can box an executor here: runs Node inside the same kind of sandbox once
 * (a missing binary, a kernel without unprivileged user namespaces or a seccomp filter that
 * forbids them all show up here rather than at the first task).
 */
export function probeBwrap (paths: BwrapPaths): BwrapProbe {
  let version: string
  try {
    version = execFileSync(BWRAP, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { ok: false, reason: code === 'ENOENT' ? 'bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)' : `bwrap --version failed: ${(err as Error).message}` }
  }
  const box: Sandbox = { key: 'probe', mode: 'bwrap', fsRead: [], fsWrite: [], tools: [], network: false, env: {}, home: undefined }
  try {
    const out = execFileSync(BWRAP, [...bwrapArgs(box, paths), paths.nodePath, '-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 15_000, env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] })
    if (out.trim() === '') return { ok: false, reason: 'Node printed nothing inside the bwrap sandbox' }
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-2).join(' ')
    return { ok: false, reason: `Node does not start inside the bwrap sandbox: ${stderr !== '' ? stderr : (err as Error).message}` }
  }
  return { ok: true, version }
}

function lstatOrUndefined (p: string): ReturnType<typeof lstatSync> | undefined {
  try { return lstatSync(p) } catch { return undefined }
}

function readLink (p: string): string {
  return realpathSync(p)
}
