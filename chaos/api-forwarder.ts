import { createServer, request } from 'node:http'
import { rmSync } from 'node:fs'
import { readApiRecord } from '../src/node/host/data-dir.js'

// Runs inside a node's network namespace: accepts HTTP on a Unix socket (a file, reachable
// from every namespace) and forwards each request to the node's control API on the
// namespace's own 127.0.0.1, whose port it reads from the data dir at each request, so it
// follows the node across restarts. The control API itself stays loopback-only, and answers
// only requests whose Host names its own address: the forwarder sets it (the client named the
// host-side port the test listens on).
//
//   node dist/chaos/api-forwarder.js SOCKET_PATH DATA_DIR

const [socketPath, dataDir] = process.argv.slice(2)
if (socketPath === undefined || dataDir === undefined) {
  process.stderr.write('usage: api-forwarder SOCKET_PATH DATA_DIR\n')
  process.exit(2)
}
rmSync(socketPath, { force: true })
createServer((req, res) => {
  const record = readApiRecord(dataDir)
  if (record === undefined) { res.destroy(); return }
  const port = Number(new URL(record.url).port)
  const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${port}` } }, answer => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  upstream.on('error', () => res.destroy())
  res.on('close', () => { if (!res.writableFinished) upstream.destroy() })
  req.pipe(upstream)
}).listen(socketPath, () => process.stdout.write('listening\n'))
