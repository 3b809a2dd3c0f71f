// Types of site.mjs, for the TypeScript tests that import it.
export interface GeneratedSite {
  pages: number
  paths: string[]
  render (path: string, origin: string): string | undefined
}
export interface ServedSite {
  origin: string
  site: GeneratedSite
  fetches: Map<string, number>
  byAgent: Map<string, string[]>
  held: Array<{ agent: string, path: string }>
  hold (): void
  release (): void
  close (): Promise<void>
}
export function pagePath (i: number): string
export function generateSite (opts?: { pages?: number, seed?: number }): GeneratedSite
export function serveSite (opts?: { pages?: number, seed?: number, port?: number, delayMs?: number }): Promise<ServedSite>
