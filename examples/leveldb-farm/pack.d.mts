// Types of pack.mjs, for the TypeScript test that imports it.
export interface Unit { source: string, flags: string[] }
export interface Project { files: Record<string, string>, units: Unit[], notes: string[] }
export function packClassicLevel (dir?: string, opts?: { gyp?: boolean }): Project
