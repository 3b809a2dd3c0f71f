import { describe, expect, it } from 'vitest'
import { main, missingRequirements, REQUIREMENTS, setupPlan, type SetupHost } from '../../scripts/test-setup.mjs'

// scripts/test-setup.mjs (what `npm test` runs first) against made-up machines: which tools are
// found is injected, nothing is installed or looked up on this one.

const ALL_TOOLS = ['bwrap', 'ip', 'redis-server', 'tmux', 'c++', 'make', 'initdb', 'pg_ctl']

function host (opts: { tools?: string[], files?: string[], dirs?: Record<string, string[]>, isRoot?: boolean, hasAptGet?: boolean, env?: Record<string, string> } = {}): SetupHost {
  const tools = new Set(opts.tools ?? ALL_TOOLS)
  const files = new Set(opts.files ?? ['/usr/bin/chromium'])
  return {
    env: opts.env ?? {},
    which: name => tools.has(name),
    exists: path => files.has(path),
    listDir: path => opts.dirs?.[path] ?? [],
    isRoot: opts.isRoot ?? false,
    hasAptGet: opts.hasAptGet ?? true,
  }
}

const sink = (): { text: string, write: (s: string) => void } => {
  const s = { text: '', write: (t: string) => { s.text += t } }
  return s
}

describe('which packages are missing', () => {
  it('none on a machine with every tool', () => {
    expect(missingRequirements(host())).toEqual([])
    expect(setupPlan([], { isRoot: false, hasAptGet: true })).toEqual({ action: 'ready' })
  })

  it('each tool maps to its Debian package', () => {
    const pkgs = (h: SetupHost): string[] => missingRequirements(h).map(r => r.pkg)
    expect(pkgs(host({ tools: [] , files: [] }))).toEqual(['bubblewrap', 'iproute2', 'redis-server', 'chromium', 'tmux', 'g++', 'make', 'postgresql'])
    expect(pkgs(host({ tools: ALL_TOOLS.filter(t => t !== 'bwrap') }))).toEqual(['bubblewrap'])
    expect(pkgs(host({ tools: ALL_TOOLS.filter(t => t !== 'ip') }))).toEqual(['iproute2'])
    expect(pkgs(host({ tools: ALL_TOOLS.filter(t => t !== 'redis-server') }))).toEqual(['redis-server'])
    expect(pkgs(host({ tools: ALL_TOOLS.filter(t => t !== 'tmux') }))).toEqual(['tmux'])
    expect(pkgs(host({ files: [] }))).toEqual(['chromium'])
  })

  it("PostgreSQL counts when its binaries are on PATH or in Debian's /usr/lib/postgresql/<version>/bin", () => {
    const noPg = ALL_TOOLS.filter(t => t !== 'initdb' && t !== 'pg_ctl')
    expect(missingRequirements(host({ tools: noPg })).map(r => r.pkg)).toEqual(['postgresql'])
    expect(missingRequirements(host({ tools: [...noPg, 'initdb'] })).map(r => r.pkg)).toEqual(['postgresql'])
    expect(missingRequirements(host({ tools: noPg, dirs: { '/usr/lib/postgresql': ['15'] }, files: ['/usr/bin/chromium', '/usr/lib/postgresql/15/bin/initdb'] }))).toEqual([])
    // A leftover version dir without binaries is not an installed server.
    expect(missingRequirements(host({ tools: noPg, dirs: { '/usr/lib/postgresql': ['13'] } })).map(r => r.pkg)).toEqual(['postgresql'])
  })

  it('MESHWORK_CHROMIUM names another browser binary, as the dashboard test reads it', () => {
    expect(missingRequirements(host({ files: ['/opt/chromium/chrome'], env: { MESHWORK_CHROMIUM: '/opt/chromium/chrome' } }))).toEqual([])
    expect(missingRequirements(host({ files: ['/usr/bin/chromium'], env: { MESHWORK_CHROMIUM: '/opt/chromium/chrome' } })).map(r => r.pkg)).toEqual(['chromium'])
  })
})

describe('what the script does about them', () => {
  const missing = REQUIREMENTS.filter(r => r.pkg === 'tmux' || r.pkg === 'postgresql')

  it('as root with apt-get: apt-get update, then one non-interactive install of exactly what is missing', () => {
    expect(setupPlan(missing, { isRoot: true, hasAptGet: true })).toEqual({
      action: 'install',
      packages: ['tmux', 'postgresql'],
      commands: [['apt-get', ['update', '-qq']], ['apt-get', ['install', '-y', '-qq', 'tmux', 'postgresql']]],
    })
  })

  it('not root: the one command that installs them, and no install', () => {
    const plan = setupPlan(missing, { isRoot: false, hasAptGet: true })
    expect(plan.action).toBe('instruct')
    if (plan.action !== 'instruct') return
    expect(plan.message).toContain('sudo apt-get update && sudo apt-get install -y tmux postgresql\n')
    expect(plan.message).toContain('tmux: the terminal test')
  })

  it('without apt-get: names the tools, even as root', () => {
    const plan = setupPlan(missing, { isRoot: true, hasAptGet: false })
    expect(plan.action).toBe('instruct')
    if (plan.action === 'instruct') expect(plan.message).toMatch(/no apt-get/)
  })

  it('main: ready exits 0 and runs nothing', () => {
    const ran: string[] = []
    const out = sink()
    expect(main({ host: host(), out, err: sink(), run: cmd => { ran.push(cmd); return 0 } })).toBe(0)
    expect(ran).toEqual([])
    expect(out.text).toMatch(/present/)
  })

  it('main: not root exits 1 with the command on stderr, running nothing', () => {
    const ran: string[] = []
    const err = sink()
    expect(main({ host: host({ tools: ALL_TOOLS.filter(t => t !== 'tmux') }), out: sink(), err, run: cmd => { ran.push(cmd); return 0 } })).toBe(1)
    expect(ran).toEqual([])
    expect(err.text).toContain('sudo apt-get install -y tmux')
  })

  it('main: root installs, then checks again', () => {
    const tools = ALL_TOOLS.filter(t => t !== 'tmux')
    const h = host({ tools, isRoot: true })
    const ran: Array<[string, string[]]> = []
    const run = (cmd: string, args: string[]): number => {
      ran.push([cmd, args])
      if (args[0] === 'install') tools.push(...args.slice(3))
      return 0
    }
    // `which` reads the live list, so the re-check sees what the install added.
    const live: SetupHost = { ...h, which: name => tools.includes(name) }
    expect(main({ host: live, out: sink(), err: sink(), run })).toBe(0)
    expect(ran).toEqual([['apt-get', ['update', '-qq']], ['apt-get', ['install', '-y', '-qq', 'tmux']]])
  })

  it('main: a failed apt-get, or a tool still missing after the install, exits 1', () => {
    const h = host({ tools: ALL_TOOLS.filter(t => t !== 'tmux'), isRoot: true })
    const err = sink()
    expect(main({ host: h, out: sink(), err, run: (_cmd, args) => args[0] === 'update' ? 100 : 0 })).toBe(1)
    expect(err.text).toMatch(/apt-get update -qq exited with 100/)
    const err2 = sink()
    expect(main({ host: h, out: sink(), err: err2, run: () => 0 })).toBe(1)
    expect(err2.text).toMatch(/still missing after apt-get install: tmux/)
  })
})
