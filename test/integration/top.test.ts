import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { shortId } from '../../src/node/cli/format.js'
import { BIN_PATH, LocalMesh } from '../../src/node/testing/local-mesh.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

// `meshwork top` on a real terminal: tmux gives it a pseudo-terminal of a fixed size, and
// the test reads the screen with `tmux capture-pane -p` while a job runs and a node is killed.
// The tmux server has its own socket (-L) and the session a unique name, so parallel runs
// and anyone else's tmux are left alone; the server is killed at the end, even on failure.

const root = join(import.meta.dirname, '..', '..')
const SOCKET = `mw-top-${process.pid}-${Date.now().toString(36)}`
const SESSION = `top-${process.pid}`
const DEADLINE_MS = 120_000

let mesh: LocalMesh
let work: string
let tmuxStarted = false

const api = (i: number): string => mesh.nodes[i]!.apiUrl
const peer = (i: number): string => mesh.nodes[i]!.peerId

async function tmux (...args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('tmux', ['-L', SOCKET, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`tmux ${args.join(' ')}: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

const screen = async (): Promise<string> => await tmux('capture-pane', '-p', '-t', SESSION)

/** The screen line of a node, found by its short id. */
const nodeLine = (text: string, peerId: string): string | undefined => text.split('\n').find(l => l.startsWith(shortId(peerId)))

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-top-test-'))
  mesh = await LocalMesh.start({ nodes: 3, args: ['--slots', '2', '--allow-fs-read', work, '--allow-fs-write', work] })
  await waitForFullMesh(mesh, 3, DEADLINE_MS)
})

afterAll(async () => {
  if (tmuxStarted) await tmux('kill-server').catch(() => {})
  await mesh?.stop()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

describe('meshwork top in a terminal', () => {
  it('draws the mesh and a job in place, follows it to done, shows a killed node dead, and quits on q', async () => {
    const exitFile = join(work, 'top-exit')
    // The shell records top's exit code once it quits; tmux closes the session then.
    const command = `'${process.execPath}' '${BIN_PATH}' top --api ${api(0)} --interval-ms 250; echo $? > '${exitFile}'`
    tmuxStarted = true // even a failed new-session may have started the server
    await tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', '40', command)

    const first = await waitFor('three alive nodes on the screen', async () => {
      const text = await screen()
      return mesh.nodes.every(n => nodeLine(text, n.peerId)?.includes('alive') === true) && text.includes('3/3 alive') ? text : undefined
    }, DEADLINE_MS, 100)
    expect(first).toContain('meshwork top — node')
    expect(first).toMatch(/NODE\s+NAME\s+STATUS\s+CPU\s+MEM\s+SLOTS/)
    expect(nodeLine(first, peer(0))).toContain('*') // this node is marked
    // Drawn in place on the alternate screen: the header appears once, at the top.
    expect(first.split('\n')[0]).toContain('meshwork top')
    expect(first.match(/meshwork top —/g)).toHaveLength(1)

    const submitted = await runCli(['submit', join(root, 'test', 'fixtures', 'jobs', 'counted.mjs'), '--input-json', JSON.stringify({ log: join(work, 'counted.log'), tasks: 12, ms: 300 }), '--api', api(0), '--detach'])
    expect(submitted.code, submitted.stderr).toBe(0)
    const jobId = submitted.stdout.trim()
    const doneScreen = await waitFor(`job ${jobId} done at 100% on the screen`, async () => {
      const line = (await screen()).split('\n').find(l => l.startsWith(jobId))
      return line !== undefined && /\bdone\b/.test(line) && line.includes('100%') && line.includes('12/12') ? line : undefined
    }, DEADLINE_MS, 100)
    expect(doneScreen).toContain('counted.mjs')

    await mesh.kill(2, 'SIGKILL')
    const dead = await waitFor('the killed node shown dead', async () => {
      const text = await screen()
      return nodeLine(text, peer(2))?.includes('dead') === true ? text : undefined
    }, DEADLINE_MS, 100)
    expect(dead).toContain('2/3 alive')
    mkdirSync(join(root, 'test-artifacts'), { recursive: true })
    writeFileSync(join(root, 'test-artifacts', 'top-screen.txt'), dead)

    await tmux('send-keys', '-t', SESSION, 'q')
    const code = await waitFor('top to quit', () => existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : undefined, DEADLINE_MS, 100)
    expect(code).toBe('0')
  })

  it('prints one plain frame off a terminal, and JSON with --json', async () => {
    const plain = await runCli(['top', '--api', api(0)])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).not.toContain('\x1b[')
    expect(plain.stdout).toContain('meshwork top — node')
    expect(nodeLine(plain.stdout, peer(0))).toContain('alive')
    const json = await runCli(['top', '--json', '--api', api(0)])
    expect(json.code, json.stderr).toBe(0)
    const snap = JSON.parse(json.stdout) as { status: { self: string, peers: unknown[] }, jobs: unknown[] }
    expect(snap.status.self).toBe(peer(0))
    expect(snap.jobs.length).toBeGreaterThanOrEqual(1)
  })

  it('says what to do when no node answers', async () => {
    const r = await runCli(['top', '--once', '--api', 'http://127.0.0.1:9'])
    expect(r.code).toBe(4) // no node to talk to
    expect(r.stderr).toMatch(/^meshwork: /)
    expect(r.stderr).toContain('Is `meshwork start` running?')
  })
})
