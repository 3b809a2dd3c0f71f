// A build farm in the spirit of Incredibuild: compile each C file with the machine's `cc` on
// whichever peer is free; collect exit codes, diagnostics and object-file hashes.
//   node examples/build-farm/pack.mjs > /tmp/project.json
//   meshwork submit examples/build-farm.mjs --input /tmp/project.json
// Input: { files: { "name.c": source, "name.h": header, … } }, or { synthetic: N } for N
// generated translation units (for benchmarks with thousands of short compile tasks).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

function syntheticProject (n) {
  const files = {}
  for (let i = 0; i < n; i++) files[`unit${i}.c`] = `int f${i}(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * ${i + 1}; return s; }\n`
  return { files }
}

export default {
  kind: 'function',
  requires: { tools: ['cc'] },
  // The input is one JSON file, parsed by split() below: not cut into lines.
  records: 'whole',
  split (input) {
    const project = Buffer.isBuffer(input) || input instanceof Uint8Array ? JSON.parse(Buffer.from(input).toString('utf8')) : input
    const { files } = typeof project?.synthetic === 'number' ? syntheticProject(project.synthetic) : project
    const headers = Object.fromEntries(Object.entries(files).filter(([name]) => name.endsWith('.h')))
    return Object.keys(files).filter(name => name.endsWith('.c')).sort().map(name => ({ name, source: files[name], headers }))
  },
  map ({ name, source, headers }, ctx) {
    const dir = join(ctx.scratchDir, `task-${ctx.taskIndex}`)
    mkdirSync(dir, { recursive: true })
    for (const [h, text] of Object.entries(headers)) writeFileSync(join(dir, h), text)
    writeFileSync(join(dir, name), source)
    const object = name.replace(/\.c$/, '.o')
    const cc = spawnSync('cc', ['-c', '-O2', '-Wall', name, '-o', object], { cwd: dir, encoding: 'utf8' })
    if (cc.error) throw new Error(`cannot run cc: ${cc.error.message}`)
    const sha256 = cc.status === 0 ? createHash('sha256').update(readFileSync(join(dir, object))).digest('hex') : null
    return { name, exitCode: cc.status, diagnostics: cc.stderr, sha256, peer: ctx.peerId }
  },
  reduce (results) {
    const objects = {}
    for (const r of results) objects[r.name] = { exitCode: r.exitCode, diagnostics: r.diagnostics, sha256: r.sha256 }
    return { compiled: results.filter(r => r.exitCode === 0).length, failed: results.filter(r => r.exitCode !== 0).length, objects }
  },
}
