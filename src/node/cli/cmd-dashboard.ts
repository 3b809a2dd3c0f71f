import type { Command } from 'commander'
import { resolveApiToken, resolveApiUrl, type ClientOptions } from './client.js'
import { dashboardUrl } from '../api/dashboard/token.js'

// `meshwork dashboard`: the address of the local node's web dashboard, with its API token
// when there is one, so the link opens the page signed in. The token rides in the fragment
// (`/#token=…`), which the browser keeps to itself: the page moves it into sessionStorage.

export function registerDashboardCommand (program: Command, addClientOptions: (cmd: Command) => Command): void {
  addClientOptions(program.command('dashboard')
    .description("Print the link to the node's live web dashboard (served on its control port)."))
    .option('--json', 'print { url }')
    .addHelpText('after', `
Examples:
  meshwork dashboard                      # then open the link in a browser on this machine (it holds the token: do not share it)
  meshwork dashboard --data-dir /tmp/node2
  ssh -L 7070:127.0.0.1:7070 host         # the API listens on 127.0.0.1 only: tunnel to see a remote node`)
    .action((opts: ClientOptions & { json?: boolean }) => {
      const api = resolveApiUrl(opts)
      // The same token the other client commands use: --token, $MESHWORK_TOKEN, or the node's data dir.
      const url = dashboardUrl(api, resolveApiToken(opts, api))
      process.stdout.write(opts.json === true ? JSON.stringify({ url }) + '\n' : `${url}\n`)
    })
}
