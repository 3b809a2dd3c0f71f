import { createServer, connect } from 'node:net'
import { rmSync } from 'node:fs'
import { readApiRecord } from '../src/node/data-dir.js'

// Runs inside a node's network namespace: accepts connections on a Unix socket (a file,
// reachable from every namespace) and forwards each to the node's control API on the
// namespace's own 127.0.0.1, whose port it reads from the data dir at each connection, so it
// follows the node across restarts. The control API itself stays loopback-only.
//
//   node dist/chaos/api-forwarder.js SOCKET_PATH DATA_DIR

const [socketPath, dataDir] = process.argv.slice(2)
if (socketPath === undefined || dataDir === undefined) {
  process.stderr.write('usage: api-forwarder SOCKET_PATH DATA_DIR\n')
  process.exit(2)
}
rmSync(socketPath, { force: true })
createServer(client => {
  const record = readApiRecord(dataDir)
  if (record === undefined) { client.destroy(); return }
  const api = connect(Number(new URL(record.url).port), '127.0.0.1')
  client.pipe(api).pipe(client)
  const close = (): void => { client.destroy(); api.destroy() }
  client.on('error', close)
  api.on('error', close)
}).listen(socketPath, () => process.stdout.write('listening\n'))
