// A throwaway PostgreSQL server for the crawler example and its test: initdb in a temp dir, then
// pg_ctl start on a free port of 127.0.0.1 (TCP only: the tasks' sandbox has a private /tmp, so a
// Unix socket would not be visible inside it). Password (SCRAM) auth, since every local user can
// reach 127.0.0.1. PostgreSQL refuses to run as root: as root, the server runs as the `postgres`
// user (Debian's package creates it), else as `nobody`, via spawn's uid/gid.
//   const pg = await startPostgres(); … pg.config …; await pg.stop()
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The directory holding initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir () {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter(v => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin')
  throw new Error('PostgreSQL is not installed: no initdb on PATH nor under /usr/lib/postgresql (Debian/Ubuntu: apt-get install postgresql)')
}

/** The uid/gid to run the server as: ours, or when we are root, postgres' (else nobody's). */
function serverUser () {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map(l => l.split(':'))
  for (const name of ['postgres', 'nobody']) {
    const entry = passwd.find(f => f[0] === name)
    if (entry !== undefined) return { name, uid: Number(entry[2]), gid: Number(entry[3]) }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as')
}

/** A free TCP port of 127.0.0.1 (free when asked: the caller retries if it is taken meanwhile). */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function run (cmd, args, opts) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout)
      else reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`))
    })
  })
}

/**
 * Starts a server in a new temp dir and returns `{ config, port, dir, query, stop }`; `config` is
 * what `new pg.Client(config)` takes, `query(sql, params)` resolves to the rows. `stop()` stops it (immediate shutdown) and removes the dir, and
 * may be called twice. On failure nothing is left behind.
 */
export async function startPostgres ({ database = 'crawl', user = 'crawler', log = false } = {}) {
  const bin = postgresBinDir()
  const owner = serverUser()
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-pg-'))
  const data = join(dir, 'data')
  const password = randomBytes(18).toString('base64url')
  const ids = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC', HOME: dir }
  let started = false
  let client
  const stop = async () => {
    const c = client
    client = undefined
    await c?.then(x => x.end()).catch(() => {})
    if (started) {
      started = false
      await run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '30'], { ...ids, env }).catch(() => {
        // pg_ctl could not stop it: kill the postmaster by its pid file.
        try { process.kill(Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL') } catch { /* gone */ }
      })
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const pwfile = join(dir, 'pwfile')
    writeFileSync(pwfile, password + '\n', { mode: 0o600 })
    if (owner !== undefined) { chownSync(dir, owner.uid, owner.gid); chownSync(pwfile, owner.uid, owner.gid) }
    await run(join(bin, 'initdb'), ['-D', data, '-U', user, '--pwfile', pwfile, '--auth', 'scram-sha-256', '--no-locale', '-E', 'UTF8', '--no-sync'], { ...ids, env })
    rmSync(pwfile)
    // A throwaway cluster: durability off, for speed.
    const settings = ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 200', `unix_socket_directories = '${dir}'`, "listen_addresses = '127.0.0.1'"]
    writeFileSync(join(data, 'postgresql.auto.conf'), settings.join('\n') + '\n', { flag: 'a' })
    let port
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        started = true
        await run(join(bin, 'pg_ctl'), ['start', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', `-p ${port}`], { ...ids, env })
        break
      } catch (err) {
        started = false
        if (attempt >= 3) throw new Error(`${err.message}\n${readLog(dir)}`)
      }
    }
    const admin = { host: '127.0.0.1', port, user, password, database: 'postgres' }
    await createDatabase(admin, database)
    if (log) process.stderr.write(`PostgreSQL on 127.0.0.1:${port} (data in ${data}${owner !== undefined ? `, running as ${owner.name}` : ''})\n`)
    const config = { ...admin, database }
    /** Runs one statement on the crawl database (one connection, opened at the first call). */
    const query = async (sql, params) => {
      client ??= import('pg').then(async ({ default: pg }) => {
        const c = new pg.Client(config)
        await c.connect()
        return c
      })
      return (await (await client).query(sql, params)).rows
    }
    return { config, port, dir, query, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function createDatabase (admin, database) {
  const { default: pg } = await import('pg')
  const client = new pg.Client(admin)
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`)
  } finally {
    await client.end()
  }
}

function readLog (dir) {
  try { return readFileSync(join(dir, 'server.log'), 'utf8').split('\n').slice(-10).join('\n') } catch { return '' }
}
