// Types of postgres.mjs, for the TypeScript tests that import it.
export interface PgConfig { host: string, port: number, user: string, password: string, database: string }
export interface RunningPostgres {
  config: PgConfig
  port: number
  dir: string
  query<R = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<R[]>
  stop (): Promise<void>
}
export function postgresBinDir (): string
export function freePort (): Promise<number>
export function startPostgres (opts?: { database?: string, user?: string, log?: boolean }): Promise<RunningPostgres>
