import { join } from 'node:path'
import { createMeshKeyFile, MESH_KEY_FILE, MeshKeyError } from '../../security/mesh-key.js'
import { defaultDataDir, ensureDataDir } from '../host/data-dir.js'
import { UsageError } from './options.js'

// `meshwork init`: a new mesh key in the data dir, and how to give it to the other machines.

export function initCommand (opts: { dataDir?: string, force?: boolean }): void {
  const dataDir = ensureDataDir(opts.dataDir ?? defaultDataDir())
  const path = join(dataDir, MESH_KEY_FILE)
  try {
    createMeshKeyFile(path, { force: opts.force === true })
  } catch (err) {
    if (err instanceof MeshKeyError) throw new UsageError(err.message)
    throw err
  }
  const dirArg = opts.dataDir !== undefined ? ` --data-dir ${dataDir}` : ''
  process.stdout.write([
    `Created a new mesh key: ${path} (mode 0600).`,
    '',
    'Only nodes holding this key can join the mesh. Copy it to every other machine, keeping it private:',
    `  scp ${path} OTHER-HOST:.meshwork/${MESH_KEY_FILE}     # then on OTHER-HOST: chmod 600 ~/.meshwork/${MESH_KEY_FILE}`,
    'or keep it elsewhere and start nodes with --mesh-key FILE (or MESHWORK_MESH_KEY=FILE).',
    '',
    `Then run \`meshwork start${dirArg}\` here and on the other machines.`,
    '',
  ].join('\n'))
}
