// Types of local-build.mjs, for the TypeScript test that imports it.
import type { Project } from './pack.mjs'
export interface Outcome { exitCode: number, diagnostics: string, sha256: string | null }
export function writeMakefile (project: Pick<Project, 'files' | 'units'>, dir: string): void
export function buildLocal (project: Pick<Project, 'files' | 'units'>, dir: string, jobs?: number): Promise<{ ms: number, objects: Record<string, Outcome> }>
