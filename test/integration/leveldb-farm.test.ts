import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { submitJson } from '../helpers/cli.js'
import { buildLocal, type Outcome } from '../../examples/leveldb-farm/local-build.mjs'
import { packClassicLevel } from '../../examples/leveldb-farm/pack.mjs'

// A code base no one here wrote: the LevelDB 1.20 and Snappy sources (and binding.cc) of the npm
// package classic-level, every .cc compiled by `make -j2` here and by examples/leveldb-farm/farm.mjs
// on a real 3-node mesh. Each unit must come back with the same exit code, diagnostics and object
// sha256. All 81 units, twice, on a busy 2-core machine: about 2 minutes when measured.

const farm = join(import.meta.dirname, '..', '..', 'examples', 'leveldb-farm', 'farm.mjs')
let mesh: LocalMesh | undefined
let work: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-leveldb-farm-test-'))
  mesh = await LocalMesh.start({ nodes: 3, args: ['--slots', '1', '--task-timeout-ms', '240000', '--allow-exec', 'c++'] })
  await waitForFullMesh(mesh, 3, 60_000)
}, 90_000)
afterAll(async () => {
  await mesh?.stop()
  rmSync(work, { recursive: true, force: true })
})

describe('build farm on classic-level (LevelDB + Snappy, C++)', () => {
  it('the mesh builds every unit like make -j2 does: same exit codes, diagnostics and object hashes', async () => {
    const project = packClassicLevel()
    const input = join(work, 'leveldb.json')
    writeFileSync(input, JSON.stringify({ files: project.files, units: project.units }))
    const local = await buildLocal(project, join(work, 'local'), 2)

    const out = await submitJson(mesh!.nodes[1]!.apiUrl, [farm, '--input', input])
    const result = out.result as { compiled: number, failed: number, tasksByPeer: Record<string, number>, objects: Record<string, Outcome & { peer: string }> }
    const sources = project.units.map(u => u.source).sort()
    expect(sources.length).toBeGreaterThanOrEqual(80) // 81 with binding.cc (it needs Node-API headers)
    expect(Object.keys(result.objects).sort()).toEqual(sources)
    for (const source of sources) {
      const got = result.objects[source]!
      const want = local.objects[source]!
      expect({ source, exitCode: got.exitCode, sha256: got.sha256, diagnostics: got.diagnostics }).toEqual({ source, ...want })
    }
    // What classic-level's gyp files build on Linux compiles; what fails, fails in both builds.
    for (const u of packClassicLevel(undefined, { gyp: true }).units) expect(result.objects[u.source]!.exitCode, u.source).toBe(0)
    expect(result.compiled).toBe(Object.values(local.objects).filter(o => o.exitCode === 0).length)
    expect(result.compiled).toBeGreaterThanOrEqual(69)
    expect(result.compiled + result.failed).toBe(sources.length)
    // Tasks ran on more than one node, and the peers named are the mesh's.
    expect(Object.keys(result.tasksByPeer).length).toBeGreaterThan(1)
    for (const p of Object.keys(result.tasksByPeer)) expect(mesh!.nodes.map(n => n.peerId)).toContain(p)
    expect(Object.values(result.tasksByPeer).reduce((a, b) => a + b, 0)).toBe(sources.length)
  }, 270_000)
})
