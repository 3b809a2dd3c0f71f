#!/usr/bin/env node
// The `meshwork` command: the polyfill must load before libp2p.
import '../dist/src/polyfill.js'
import { main, reportError } from '../dist/src/node/cli/cli.js'

// A closed pipe (`meshwork status | head`) is not an error worth a stack trace.
process.stdout.on('error', err => { if (err.code === 'EPIPE') process.exit(0); throw err })

main(process.argv).catch(err => process.exit(reportError(err)))
