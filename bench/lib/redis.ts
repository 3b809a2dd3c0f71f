import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort, spawnGroup, type Spawned } from './procs.js'

// A throwaway Redis server on 127.0.0.1 for the BullMQ baseline: Debian's redis-server on a free
// loopback port, no persistence (`--save '' --appendonly no`), stopped after the run.

export interface RedisServer { port: number, version: string, stop: () => Promise<void> }

export function redisVersion (): string | undefined {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    return /v=([\d.]+)/.exec(out)?.[1] ?? out.trim()
  } catch { return undefined }
}

async function ping (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect({ host: '127.0.0.1', port })
    let buf = ''
    socket.setTimeout(500, () => { socket.destroy(); resolve(false) })
    socket.on('error', () => resolve(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', d => { buf += d.toString(); if (buf.includes('\r\n')) { socket.destroy(); resolve(buf.startsWith('+PONG')) } })
  })
}

export async function startRedis (dir: string, guardScript: string, env: NodeJS.ProcessEnv): Promise<RedisServer> {
  const version = redisVersion()
  if (version === undefined) throw new Error('redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)')
  mkdirSync(dir, { recursive: true })
  let lastError: Error | undefined
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', '--databases', '1']
    const child: Spawned = spawnGroup(process.execPath, [guardScript, ...args], { ipc: true, env, logFile: join(dir, 'redis.log') })
    const deadline = Date.now() + 10_000
    let up = false
    while (Date.now() < deadline && child.proc.exitCode === null) {
      if (await ping(port)) { up = true; break }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    if (up) return { port, version, stop: async () => { child.proc.disconnect?.(); await child.stop(5000) } }
    lastError = new Error(`redis-server did not answer on 127.0.0.1:${port}; see ${join(dir, 'redis.log')}`)
    await child.stop(1000)
  }
  throw lastError ?? new Error('redis-server did not start')
}
