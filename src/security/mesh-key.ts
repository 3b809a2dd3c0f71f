import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey, preSharedKey } from '@libp2p/pnet'
import { patchPnetCipher } from '../node/net/pnet-patch.js'
import { checkingMeshKey, pnetKeyBytes, type ProtectorFactory } from './mesh-key-check.js'
import { MeshworkError } from '../util/errors.js'

// The mesh key: a libp2p private-network pre-shared key (pnet, v1 format). Every connection is
// protected with it before noise even starts, so a peer without the key cannot connect at all,
// whether it found us by mDNS, by a bootstrap address or by scanning ports.

export const MESH_KEY_FILE = 'mesh.key'
export const MESH_KEY_ENV = 'MESHWORK_MESH_KEY'
const PSK_BYTES = 95
const PSK_RE = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n[0-9a-fA-F]{64}\s*$/

export class MeshKeyError extends MeshworkError { readonly code = 'mesh-key' }

/**
 * The libp2p connection protector for a mesh key (with the cipher fix of pnet-patch.ts applied),
 * reporting peers that hold another key (mesh-key-check.ts; Connectivity logs them).
 */
export function meshKeyProtector (psk: Uint8Array): ProtectorFactory {
  patchPnetCipher()
  return checkingMeshKey(preSharedKey({ psk }), pnetKeyBytes(psk))
}

/** A fresh key in the format `@libp2p/pnet` reads. */
export function newMeshKey (): Uint8Array {
  const psk = new Uint8Array(PSK_BYTES)
  generateKey(psk)
  return psk
}

/** Write a new key to `path` (mode 0600). Refuses to replace an existing key unless `force`. */
export function createMeshKeyFile (path: string, opts: { force?: boolean } = {}): Uint8Array {
  if (existsSync(path) && opts.force !== true) {
    throw new MeshKeyError(`${path} already exists: this data dir has a mesh key. Use --force to replace it (every node of the mesh then needs the new key).`)
  }
  const psk = newMeshKey()
  writeFileSync(path, psk, { mode: 0o600, flag: opts.force === true ? 'w' : 'wx' })
  chmodSync(path, 0o600)
  return psk
}

/** Read and check a key file: the pnet v1 format, readable by its owner only. */
export function readMeshKeyFile (path: string): Uint8Array {
  let bytes: Buffer
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new MeshKeyError(`mesh key ${path} is readable by other users: run \`chmod 600 ${path}\``)
    }
    bytes = readFileSync(path)
  } catch (err) {
    if (err instanceof MeshKeyError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new MeshKeyError(`cannot read mesh key ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  if (bytes.length > 256 || !PSK_RE.test(bytes.toString('latin1'))) {
    throw new MeshKeyError(`${path} is not a mesh key (expected the 3 lines \`meshwork init\` writes: /key/swarm/psk/1.0.0/, /base16/, 64 hex digits)`)
  }
  return new Uint8Array(bytes)
}

export interface MeshKeyChoice {
  /** --mesh-key FILE */
  meshKey?: string
  dataDir: string
  insecureOpenMesh?: boolean
  env?: NodeJS.ProcessEnv
}

export type ResolvedMeshKey = { psk: Uint8Array, path: string } | { psk: undefined, path: undefined }

/**
 * The key a node starts with: --mesh-key FILE, else $MESHWORK_MESH_KEY, else DATA_DIR/mesh.key.
 * Without any, the node refuses to start unless --insecure-open-mesh, saying what to run.
 */
export function resolveMeshKey (choice: MeshKeyChoice): ResolvedMeshKey {
  const env = choice.env ?? process.env
  const explicit = choice.meshKey ?? (env[MESH_KEY_ENV] !== undefined && env[MESH_KEY_ENV] !== '' ? env[MESH_KEY_ENV] : undefined)
  if (explicit !== undefined) {
    if (choice.insecureOpenMesh === true) throw new MeshKeyError('give either a mesh key (--mesh-key or $MESHWORK_MESH_KEY) or --insecure-open-mesh, not both')
    return { psk: readMeshKeyFile(explicit), path: explicit }
  }
  const inDataDir = join(choice.dataDir, MESH_KEY_FILE)
  if (existsSync(inDataDir)) {
    if (choice.insecureOpenMesh === true) throw new MeshKeyError(`${inDataDir} exists but --insecure-open-mesh was given: remove one of them`)
    return { psk: readMeshKeyFile(inDataDir), path: inDataDir }
  }
  if (choice.insecureOpenMesh === true) return { psk: undefined, path: undefined }
  throw new MeshKeyError([
    `no mesh key: ${inDataDir} does not exist and neither --mesh-key nor $${MESH_KEY_ENV} is set.`,
    `  On the first machine run:      meshwork init${choice.dataDir !== '' ? ` --data-dir ${choice.dataDir}` : ''}`,
    `  then copy ${MESH_KEY_FILE} to the other machines' data dirs (mode 0600), or pass --mesh-key FILE.`,
    '  To run an open mesh that any peer on the network can join and use, pass --insecure-open-mesh.',
  ].join('\n'))
}
