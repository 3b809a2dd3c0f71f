import { execFile } from 'node:child_process'
import { BIN_PATH } from '../../src/node/testing/local-mesh.js'

export interface CliResult { code: number, stdout: string, stderr: string }

/** Run `meshwork ARGS` as a real process (node bin/meshwork.js, never through npx). */
export async function runCli (args: string[], timeoutMs = 240_000, env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN_PATH, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

export async function submitJson (api: string, args: string[]): Promise<{ jobId: string, coordinator: string, result: unknown, tasks: number, wallMs: number, tasksByPeer: Record<string, number> }> {
  const r = await runCli(['submit', ...args, '--api', api, '--json'])
  if (r.code !== 0) throw new Error(`submit failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout)
}
