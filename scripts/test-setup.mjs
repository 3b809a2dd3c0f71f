#!/usr/bin/env node
// What `npm test` needs from the machine besides Node: checks each tool and, run as root where
// apt-get exists (CI, a fresh container), installs the missing Debian packages non-interactively;
// otherwise prints the one command that installs them and exits non-zero.
//   node scripts/test-setup.mjs          (npm test and .ci/run call it)
// The checks are pure functions of an injected host (`which`, `exists`, `isRoot`, …), so
// test/unit/test-setup.test.ts runs them without touching the machine.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Each Debian package the test suite needs, what needs it, and how to tell it is there. */
export const REQUIREMENTS = [
  { pkg: 'bubblewrap', why: "bwrap: the executors' OS sandbox (every node refuses to start without it)", present: h => h.which('bwrap') },
  { pkg: 'iproute2', why: 'ip: the network namespaces of the mDNS and partition tests', present: h => h.which('ip') },
  { pkg: 'redis-server', why: 'redis-server: the BullMQ baseline in the bench smoke test', present: h => h.which('redis-server') },
  { pkg: 'chromium', why: "chromium: the dashboard's browser test (playwright-core drives it)", present: h => h.exists(h.env.MESHWORK_CHROMIUM || '/usr/bin/chromium') },
  { pkg: 'tmux', why: 'tmux: the terminal test of `meshwork top`', present: h => h.which('tmux') },
  { pkg: 'g++', why: 'c++: the C++ build farm example and its test (examples/leveldb-farm/)', present: h => h.which('c++') },
  { pkg: 'make', why: 'make: the local make -j2 build the LevelDB farm test compares against', present: h => h.which('make') },
  {
    pkg: 'postgresql',
    why: 'initdb, pg_ctl: the crawler example and its test (examples/crawler/)',
    // Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
    present: h => (h.which('initdb') && h.which('pg_ctl')) || h.listDir('/usr/lib/postgresql').some(v => h.exists(`/usr/lib/postgresql/${v}/bin/initdb`)),
  },
]

/** The requirements the host lacks, in REQUIREMENTS' order. */
export function missingRequirements (host, requirements = REQUIREMENTS) {
  return requirements.filter(r => !r.present(host))
}

/**
 * What to do about `missing`:
 * - `{ action: 'ready' }`: nothing is missing;
 * - `{ action: 'install', commands }`: root with apt-get: run each [cmd, args] in turn;
 * - `{ action: 'instruct', message }`: print the message and exit non-zero.
 */
export function setupPlan (missing, { isRoot, hasAptGet }) {
  if (missing.length === 0) return { action: 'ready' }
  const pkgs = missing.map(r => r.pkg)
  if (isRoot && hasAptGet) {
    return { action: 'install', packages: pkgs, commands: [['apt-get', ['update', '-qq']], ['apt-get', ['install', '-y', '-qq', ...pkgs]]] }
  }
  const list = missing.map(r => `  ${r.pkg.padEnd(13)} ${r.why}`).join('\n')
  const how = hasAptGet
    ? `Install them with:\n\n  sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}\n`
    : `This machine has no apt-get: install the equivalent packages with its package manager${isRoot ? '' : ' (as root)'}.\n`
  return { action: 'instruct', packages: pkgs, message: `npm test needs tools this machine lacks:\n${list}\n\n${how}` }
}

/** The real machine. */
export function realHost (env = process.env) {
  const which = (name) => (env.PATH ?? '').split(delimiter).some(dir => {
    if (dir === '') return false
    try {
      const file = join(dir, name)
      accessSync(file, constants.X_OK)
      return statSync(file).isFile()
    } catch { return false }
  })
  return {
    env,
    which,
    exists: (path) => existsSync(path),
    listDir: (path) => { try { return readdirSync(path) } catch { return [] } },
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasAptGet: which('apt-get'),
  }
}

/** Checks, installs if it may, re-checks. Resolves to the exit code. */
export function main ({ host = realHost(), out = process.stdout, err = process.stderr, run = runCommand } = {}) {
  const missing = missingRequirements(host)
  const plan = setupPlan(missing, host)
  if (plan.action === 'ready') {
    out.write(`test setup: ${REQUIREMENTS.map(r => r.pkg).join(', ')} present\n`)
    return 0
  }
  if (plan.action === 'instruct') {
    err.write(plan.message)
    return 1
  }
  out.write(`test setup: installing ${plan.packages.join(' ')} (apt-get, as root) …\n`)
  for (const [cmd, args] of plan.commands) {
    const code = run(cmd, args)
    if (code !== 0) {
      err.write(`test setup: ${cmd} ${args.join(' ')} exited with ${code}\n`)
      return 1
    }
  }
  const still = missingRequirements(host)
  if (still.length > 0) {
    err.write(`test setup: still missing after apt-get install: ${still.map(r => r.pkg).join(', ')}\n`)
    return 1
  }
  return 0
}

/** Non-interactive apt-get: no prompts, no stdin, output passed through. */
function runCommand (cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return r.status ?? 1
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main()
