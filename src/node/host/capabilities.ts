import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

// The tools a node advertises in its vector: which of a configurable list of commands are
// found on PATH (checked at start). Jobs `requires: { tools: [...] }` match against these.

export const DEFAULT_TOOLS: readonly string[] = ['cc', 'gcc', 'clang', 'make', 'cmake', 'python3', 'go', 'rustc', 'cargo', 'java', 'git', 'docker']

export function findTools (names: readonly string[], pathEnv: string = process.env.PATH ?? ''): string[] {
  const dirs = pathEnv.split(delimiter).filter(d => d !== '')
  return names.filter(name => dirs.some(dir => isExecutable(join(dir, name))))
}

function isExecutable (file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}
