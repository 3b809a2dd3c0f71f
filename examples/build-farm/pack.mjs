// Packs a folder of C sources and headers into the JSON input of examples/build-farm.mjs:
//   node examples/build-farm/pack.mjs examples/build-farm/src > /tmp/project.json
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2] ?? new URL('./src', import.meta.url).pathname
const files = {}
for (const name of readdirSync(dir).sort()) if (/\.(c|h)$/.test(name)) files[name] = readFileSync(join(dir, name), 'utf8')
process.stdout.write(JSON.stringify({ files }))
