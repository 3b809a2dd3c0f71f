// A C++ build farm: compiles each translation unit with the machine's `c++` on whichever peer
// is free and returns each object's sha256, exit code and diagnostics. Made for the LevelDB and
// Snappy sources vendored in the npm package classic-level (see pack.mjs and run.mjs here).
//   node examples/leveldb-farm/pack.mjs > /tmp/leveldb.json
//   meshwork submit examples/leveldb-farm/farm.mjs --input /tmp/leveldb.json
// Nodes need `meshwork start --allow-exec c++`.
// Input: { files: { "relative/path.cc": text, "relative/path.h": text, … },
//          units: [{ source: "relative/path.cc", flags: ["-O2", "-Idir", …] }, …] }
// Each task gets its unit's source and the project headers it may include (found by following
// #include lines through the unit's -I dirs), writes them at the same relative paths in its own
// dir and runs, from that dir:
//   c++ FLAGS -ffile-prefix-map=DIR=. -c SOURCE -o OBJECT     (OBJECT: SOURCE with .o for .cc)
// A local build that runs the same line from a root holding the same relative paths gets
// byte-identical objects (compile.mjs: the one command line, which run.mjs and the test use too).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { compileArgs, objectOf } from './compile.mjs'

/** The -I dirs of a flag list, as given ("-Ifoo" or "-I", "foo"). */
function includeDirs (flags) {
  const dirs = []
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === '-I' || flags[i] === '-iquote' || flags[i] === '-isystem') dirs.push(flags[++i])
    else if (flags[i].startsWith('-I')) dirs.push(flags[i].slice(2))
  }
  return dirs
}

const INCLUDE_RE = /^[ \t]*#[ \t]*include[ \t]*[<"]([^>"\n]+)[>"]/gm

/**
 * The project files `source` may include, directly or not. Over-approximates on purpose: every
 * #include line counts (whatever #if it sits under), and a name is looked up in the including
 * file's dir and in every -I dir, taking each match.
 */
function headerClosure (files, source, dirs) {
  const need = new Set()
  const queue = [source]
  while (queue.length > 0) {
    const file = queue.pop()
    for (const m of files[file].matchAll(INCLUDE_RE)) {
      for (const base of [posix.dirname(file), ...dirs]) {
        const p = posix.normalize(posix.join(base, m[1]))
        if (p !== source && files[p] !== undefined && !need.has(p)) { need.add(p); queue.push(p) }
      }
    }
  }
  return [...need].sort()
}

export default {
  kind: 'function',
  requires: { tools: ['c++'] },
  // The input is one JSON file, parsed by split() below: not cut into lines.
  records: 'whole',
  split (input) {
    const project = Buffer.isBuffer(input) || input instanceof Uint8Array ? JSON.parse(Buffer.from(input).toString('utf8')) : input
    const { files, units } = project
    return [...units].sort((a, b) => a.source < b.source ? -1 : 1).map(unit => {
      const headers = Object.fromEntries(headerClosure(files, unit.source, includeDirs(unit.flags)).map(h => [h, files[h]]))
      return { unit, source: files[unit.source], headers }
    })
  },
  map ({ unit, source, headers }, ctx) {
    const dir = join(ctx.scratchDir, `task-${ctx.taskIndex}`)
    for (const [path, text] of [...Object.entries(headers), [unit.source, source]]) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), text)
    }
    const cxx = spawnSync('c++', compileArgs(unit, dir), { cwd: dir, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
    if (cxx.error) throw new Error(`cannot run c++: ${cxx.error.message}`)
    const sha256 = cxx.status === 0 ? createHash('sha256').update(readFileSync(join(dir, objectOf(unit.source)))).digest('hex') : null
    return { source: unit.source, exitCode: cxx.status, diagnostics: cxx.stderr, sha256, peer: ctx.peerId }
  },
  reduce (results) {
    const objects = {}
    const tasksByPeer = {}
    for (const r of results) {
      objects[r.source] = { exitCode: r.exitCode, diagnostics: r.diagnostics, sha256: r.sha256, peer: r.peer }
      tasksByPeer[r.peer] = (tasksByPeer[r.peer] ?? 0) + 1
    }
    return { compiled: results.filter(r => r.exitCode === 0).length, failed: results.filter(r => r.exitCode !== 0).length, tasksByPeer, objects }
  },
}
