import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadOrCreateApiToken, presentedToken, readApiToken } from '../../src/security/api-token.js'
import { createMeshKeyFile, MeshKeyError, readMeshKeyFile, resolveMeshKey } from '../../src/security/mesh-key.js'

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'meshwork-keys-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

describe('which mesh key a node starts with', () => {
  it('--mesh-key FILE, else $MESHWORK_MESH_KEY, else DATA_DIR/mesh.key', () => {
    const a = createMeshKeyFile(join(dir, 'a.key'))
    const b = createMeshKeyFile(join(dir, 'b.key'))
    const c = createMeshKeyFile(join(dir, 'mesh.key'))
    expect(resolveMeshKey({ meshKey: join(dir, 'a.key'), dataDir: dir, env: { MESHWORK_MESH_KEY: join(dir, 'b.key') } })).toEqual({ psk: a, path: join(dir, 'a.key') })
    expect(resolveMeshKey({ dataDir: dir, env: { MESHWORK_MESH_KEY: join(dir, 'b.key') } })).toEqual({ psk: b, path: join(dir, 'b.key') })
    expect(resolveMeshKey({ dataDir: dir, env: {} })).toEqual({ psk: c, path: join(dir, 'mesh.key') })
  })

  it('none: a usage error that says what to run, unless --insecure-open-mesh', () => {
    expect(() => resolveMeshKey({ dataDir: dir, env: {} })).toThrow(MeshKeyError)
    expect(() => resolveMeshKey({ dataDir: dir, env: {} })).toThrow(`meshwork init --data-dir ${dir}`)
    expect(resolveMeshKey({ dataDir: dir, env: {}, insecureOpenMesh: true })).toEqual({ psk: undefined, path: undefined })
  })

  it('a key and --insecure-open-mesh together are refused', () => {
    createMeshKeyFile(join(dir, 'mesh.key'))
    expect(() => resolveMeshKey({ dataDir: dir, env: {}, insecureOpenMesh: true })).toThrow(/--insecure-open-mesh/)
    expect(() => resolveMeshKey({ meshKey: join(dir, 'mesh.key'), dataDir: dir, env: {}, insecureOpenMesh: true })).toThrow(/not both/)
  })

  it('key files: 0600, the pnet v1 format, never overwritten by accident', () => {
    const path = join(dir, 'k')
    createMeshKeyFile(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(() => createMeshKeyFile(path)).toThrow(/already exists/)
    const before = readFileSync(path)
    createMeshKeyFile(path, { force: true })
    expect(readFileSync(path).equals(before)).toBe(false)
    chmodSync(path, 0o640)
    expect(() => readMeshKeyFile(path)).toThrow(/chmod 600/)
    writeFileSync(join(dir, 'bad'), 'hello', { mode: 0o600 })
    expect(() => readMeshKeyFile(join(dir, 'bad'))).toThrow(/is not a mesh key/)
    expect(() => readMeshKeyFile(join(dir, 'missing'))).toThrow(/no such file/)
  })
})

describe('the control API token', () => {
  it('is made once (0600) and kept; a token file readable by others or with junk is refused', () => {
    const token = loadOrCreateApiToken(dir)
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect(statSync(join(dir, 'api.token')).mode & 0o777).toBe(0o600)
    expect(loadOrCreateApiToken(dir)).toBe(token)
    expect(readApiToken(join(dir, 'nowhere'))).toBeUndefined()
    chmodSync(join(dir, 'api.token'), 0o644)
    expect(() => readApiToken(dir)).toThrow(/chmod 600/)
    writeFileSync(join(dir, 'api.token'), 'a b', { mode: 0o600 })
    chmodSync(join(dir, 'api.token'), 0o600)
    expect(() => readApiToken(dir)).toThrow(/does not hold an API token/)
  })

  it('is read from the Authorization header only (no ?token=, no cookie)', () => {
    expect(presentedToken({ authorization: 'Bearer abc' })).toBe('abc')
    expect(presentedToken({ cookie: 'meshwork_token=c' } as { authorization?: string })).toBeUndefined()
    expect(presentedToken({ authorization: 'Basic abc' })).toBeUndefined()
  })
})
