import { randomBytes } from 'node:crypto'

// One control-API token per test process: every LocalMesh it starts gives its nodes this token
// (LocalMesh reads $MESHWORK_TOKEN), and every CLI it runs inherits it, so `--api URL` works.
process.env.MESHWORK_TOKEN ||= randomBytes(24).toString('hex')
