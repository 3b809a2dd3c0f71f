// Types of test-setup.mjs, for its unit test.
export interface SetupHost {
  env: Record<string, string | undefined>
  which (name: string): boolean
  exists (path: string): boolean
  listDir (path: string): string[]
  isRoot: boolean
  hasAptGet: boolean
}
export interface Requirement { pkg: string, why: string, present (host: SetupHost): boolean }
export type SetupPlan =
  | { action: 'ready' }
  | { action: 'install', packages: string[], commands: Array<[string, string[]]> }
  | { action: 'instruct', packages: string[], message: string }
export const REQUIREMENTS: Requirement[]
export function missingRequirements (host: SetupHost, requirements?: Requirement[]): Requirement[]
export function setupPlan (missing: Requirement[], opts: { isRoot: boolean, hasAptGet: boolean }): SetupPlan
export function realHost (env?: Record<string, string | undefined>): SetupHost
export function main (opts?: {
  host?: SetupHost
  out?: { write (s: string): unknown }
  err?: { write (s: string): unknown }
  run?: (cmd: string, args: string[]) => number
}): number
