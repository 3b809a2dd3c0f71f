import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { BIN_PATH } from '../../src/node/testing/local-mesh.js'
import type { StatusView } from '../../src/node/cli/status-view.js'
import { waitFor } from '../helpers/wait.js'

// `meshwork demo --keep` as a user runs it: a real process that leaves its mesh running, prints
// the dashboard link (token in the fragment) and the node APIs, and stops every node on Ctrl-C.

const DEADLINE_MS = 120_000
let demo: ChildProcess | undefined
let pids: number[] = []

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code !== 'ESRCH' }
}

afterAll(async () => {
  // Never leave a mesh behind, even when the test failed half-way.
  if (demo !== undefined && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL')
  for (const pid of pids) { try { process.kill(-pid, 'SIGKILL') } catch { /* gone */ } }
})

describe('meshwork demo --keep', () => {
  it('leaves the mesh running with a working dashboard link, and Ctrl-C stops every node and cleans up', async () => {
    const child = spawn(process.execPath, [BIN_PATH, 'demo', '--keep', '--nodes', '2'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    demo = child
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.stderr!.on('data', (d: Buffer) => { err += d.toString('utf8') })
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))

    const printed = await waitFor('the dashboard link and both nodes', () => {
      if (child.exitCode !== null) throw new Error(`demo exited ${child.exitCode}: ${err}`)
      const link = /^Dashboard: +(\S+)$/m.exec(out)?.[1]
      const nodes = [...out.matchAll(/^ {2}node-(\d+) +(http:\/\/127\.0\.0\.1:\d+) +pid (\d+) +data dir (\S+)$/gm)]
      const stop = /^Stop: +Ctrl-C here stops every node and removes (\S+)$/m.exec(out)?.[1]
      return link !== undefined && nodes.length === 2 && stop !== undefined ? { link, nodes, baseDir: stop } : undefined
    }, DEADLINE_MS, 100)
    pids = printed.nodes.map(m => Number(m[3]))
    for (const pid of pids) expect(alive(pid)).toBe(true)

    // The link opens the dashboard, and its fragment holds the token the API takes.
    const link = new URL(printed.link)
    const token = new URLSearchParams(link.hash.slice(1)).get('token')
    expect(token).toMatch(/^\S+$/)
    expect(link.search).toBe('')
    expect(link.origin).toBe(printed.nodes[0]![2])
    const page = await fetch(printed.link)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(await page.text()).toContain('/dashboard/app.js')
    const status = await (await fetch(`${link.origin}/status`, { headers: { authorization: `Bearer ${token}` } })).json() as StatusView
    expect(status.peers.filter(p => p.status === 'alive').map(p => p.name).sort()).toEqual(['node-0', 'node-1'])
    expect(out).toContain(`meshwork status --data-dir ${printed.nodes[0]![4]}`)

    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(out).toContain('Stopping the mesh')
    await waitFor('every node process gone', () => pids.every(pid => !alive(pid)), 30_000, 100)
    expect(existsSync(printed.baseDir)).toBe(false)
  })
})
