// Packs the LevelDB 1.20 and Snappy sources vendored in the npm package classic-level (and its
// binding.cc) into the input of farm.mjs: every .cc with its compile flags, and the headers.
//   node examples/leveldb-farm/pack.mjs [CLASSIC_LEVEL_DIR] [--gyp] > /tmp/leveldb.json
// CLASSIC_LEVEL_DIR defaults to the classic-level this repository installs (a devDependency).
// By default every .cc of the package (81 in 3.0.0, some of which cannot build: see below);
// --gyp: only the ones its gyp files build on Linux (42).
//
// Flags: those classic-level's binding.gyp, deps/leveldb/leveldb.gyp and deps/snappy/snappy.gyp
// give on Linux (defines, include dirs, -fno-builtin-memcmp, warnings), on top of what node-gyp's
// Release config adds for Node 20 (-O3, -std=gnu++17, -fno-rtti, -fno-exceptions, -fPIC, -pthread,
// -Wall -Wextra -Wno-unused-parameter), plus -frandom-seed=SOURCE so objects are reproducible.
// Of the 81, 11 fail to compile, as they would with any compiler: classic-level patched
// DB::Get() to take a ValueSink, which upstream's c.cc, db_bench.cc and five tests still call
// with a std::string*, and port-libuv/ is the Windows port (needs uv.h).
// binding.cc needs Node-API headers: taken from this Node's include/node (Debian's nodejs has
// them in /usr/include/node) with napi-macros.h; without them binding.cc is left out.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { pathToFileURL } from 'node:url'

const LDB = 'deps/leveldb/leveldb-1.20'
const NODE_GYP = ['-O3', '-std=gnu++17', '-fno-rtti', '-fno-exceptions', '-fPIC', '-pthread', '-Wall', '-Wextra', '-Wno-unused-parameter']
const SNAPPY_INCLUDES = ['-Ideps/snappy/linux', '-Ideps/snappy/snappy']
const GROUPS = {
  snappy: ['-DHAVE_CONFIG_H=1', ...SNAPPY_INCLUDES, '-Wno-sign-compare', '-Wno-unused-function'],
  leveldb: ['-DSNAPPY=1', '-DLEVELDB_PLATFORM_POSIX=1', '-DOS_LINUX=1', `-I${LDB}`, `-I${LDB}/include`, ...SNAPPY_INCLUDES, '-fno-builtin-memcmp', '-Wno-sign-compare', '-Wno-unused-but-set-variable'],
  binding: ['-DNODE_GYP_MODULE_NAME=classic_level', '-DBUILDING_NODE_EXTENSION', '-Iinclude/napi-macros', '-Iinclude/node', `-I${LDB}/include`, `-I${LDB}/port`, `-I${LDB}/util`, `-I${LDB}`],
}
// What the gyp files compile on Linux (leveldb.gyp's non-Windows branch, snappy.gyp, binding.gyp).
const GYP_LEVELDB = ['db/builder', 'db/db_impl', 'db/db_iter', 'db/filename', 'db/dbformat', 'db/log_reader', 'db/log_writer', 'db/memtable', 'db/repair', 'db/table_cache', 'db/version_edit', 'db/version_set', 'db/write_batch', 'helpers/memenv/memenv', 'port/port_posix_sse', 'table/block', 'table/block_builder', 'table/filter_block', 'table/format', 'table/iterator', 'table/merger', 'table/table', 'table/table_builder', 'table/two_level_iterator', 'util/arena', 'util/bloom', 'util/cache', 'util/coding', 'util/comparator', 'util/crc32c', 'util/env', 'util/filter_policy', 'util/hash', 'util/logging', 'util/options', 'util/status', 'port/port_posix', 'util/env_posix'].map(f => `${LDB}/${f}.cc`)
const GYP = new Set([...GYP_LEVELDB, 'deps/snappy/snappy/snappy-sinksource.cc', 'deps/snappy/snappy/snappy-stubs-internal.cc', 'deps/snappy/snappy/snappy.cc', 'binding.cc'])
const NODE_API_HEADERS = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h']

function walk (dir, root, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, root, out)
    else out.push(relative(root, p).split(sep).join('/'))
  }
  return out
}

/** The farm.mjs input for classic-level in `dir`: `{ files, units, notes }`. */
export function packClassicLevel (dir = dirname(createRequire(import.meta.url).resolve('classic-level/package.json')), opts = {}) {
  const files = {}
  const units = []
  const notes = []
  const unit = (source, group) => units.push({ source, flags: [...NODE_GYP, ...GROUPS[group], `-frandom-seed=${source}`] })
  for (const path of walk(join(dir, 'deps'), dir).sort()) {
    if (!/\.(cc|h)$/.test(path)) continue
    files[path] = readFileSync(join(dir, path), 'utf8')
    if (path.endsWith('.cc') && (opts.gyp !== true || GYP.has(path))) unit(path, path.startsWith('deps/snappy/') ? 'snappy' : 'leveldb')
  }
  const napiMacros = join(dirname(createRequire(join(dir, 'package.json')).resolve('napi-macros')), 'napi-macros.h')
  const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find(d => NODE_API_HEADERS.every(h => existsSync(join(d, h))))
  if (existsSync(join(dir, 'binding.cc')) && existsSync(napiMacros) && nodeInclude !== undefined) {
    files['binding.cc'] = readFileSync(join(dir, 'binding.cc'), 'utf8')
    files['include/napi-macros/napi-macros.h'] = readFileSync(napiMacros, 'utf8')
    for (const h of NODE_API_HEADERS) files[`include/node/${h}`] = readFileSync(join(nodeInclude, h), 'utf8')
    unit('binding.cc', 'binding')
  } else {
    notes.push('binding.cc left out: no napi-macros.h or Node-API headers (include/node) found')
  }
  return { files, units, notes }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2)
  const project = packClassicLevel(args.find(a => !a.startsWith('--')), { gyp: args.includes('--gyp') })
  for (const n of project.notes) process.stderr.write(`${n}\n`)
  process.stderr.write(`${project.units.length} units, ${Object.keys(project.files).length} files\n`)
  process.stdout.write(JSON.stringify({ files: project.files, units: project.units }))
}
