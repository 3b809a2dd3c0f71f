import { spawn } from 'node:child_process'

// node dist/bench/lib/redis-guard.js REDIS_ARGS…
// Runs redis-server as its own child, in the benchmark's process group for Redis, and stops it
// when the benchmark lets go of the IPC channel — also when the benchmark itself was killed, so
// no Redis outlives a run.

const redis = spawn('redis-server', process.argv.slice(2), { stdio: ['ignore', 'inherit', 'inherit'] })
let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  redis.kill('SIGTERM')
  setTimeout(() => redis.kill('SIGKILL'), 3000).unref()
}
redis.on('error', err => { process.stderr.write(`redis-server: ${err.message}\n`); process.exit(1) })
redis.on('exit', code => process.exit(code ?? 0))
process.on('disconnect', stop)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
