import { ClientError, MeshClient, type ClientOptions } from './client.js'
import type { DrainProgress } from '../daemon/drain.js'

// `meshwork drain`: ask the node to drain, then follow it until it has left the mesh (its
// control API stops answering once it is gone).

export async function drainCommand (opts: ClientOptions & { json?: boolean }): Promise<void> {
  const client = MeshClient.fromOptions(opts)
  let last = await client.post<DrainProgress>('/drain', {})
  let shown = ''
  for (;;) {
    const line = `${last.state}: ${last.runningTasks} running task(s), ${last.coordinatedJobs} job(s) still coordinated here${last.gaveBack > 0 ? `, ${last.gaveBack} handed back` : ''}`
    if (opts.json !== true && line !== shown) process.stderr.write(`${line}\n`)
    shown = line
    if (last.state === 'left') break
    await new Promise(resolve => setTimeout(resolve, 250))
    try {
      last = await client.get<DrainProgress>('/drain')
    } catch (err) {
      // The API closes as the node leaves.
      if (err instanceof ClientError && /Cannot reach/.test(err.message) && last.state !== 'serving') {
        last = { ...last, state: 'left', runningTasks: 0, coordinatedJobs: 0 }
        break
      }
      throw err
    }
  }
  if (opts.json === true) process.stdout.write(JSON.stringify(last) + '\n')
  else process.stdout.write('node drained and left the mesh\n')
}
