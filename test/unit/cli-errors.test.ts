import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerError, ClientError, MeshClient, NotFoundError, RefusedError } from '../../src/node/cli/client.js'
import { EXIT } from '../../src/node/cli/exit-codes.js'
import { UsageError } from '../../src/node/cli/options.js'
import { runCli } from '../helpers/cli.js'

// One prefix (`meshwork: `), documented exit codes, and client errors in the user's terms.

describe("a node's refusals, in user terms", () => {
  it.each([
    [404, '/jobs/nosuchjob', 'unknown job nosuchjob: no live node knows it (results are kept for a limited time)', NotFoundError, EXIT.notFound, /^no job nosuchjob on this node, nor on any live node/],
    [404, '/jobs/j1/cancel', 'unknown job j1', NotFoundError, EXIT.notFound, /^no job j1 on this node$/],
    [409, '/jobs/j1/cancel', 'job j1 already done', RefusedError, EXIT.refused, /^job j1 is already done: nothing to cancel$/],
    [410, '/jobs/j1', 'job j1 done at …; its result is no longer held', NotFoundError, EXIT.notFound, /^job j1 done/],
    [401, '/status', 'missing or wrong API token', ClientError, EXIT.noNode, /^the node at http:\/\/n needs its API token/],
    [400, '/jobs/bad%20id', 'invalid job id "bad id"', UsageError, EXIT.usage, /^invalid job id/],
    [403, '/jobs', 'refused the job: peer p is not allowed to submit jobs (--allow-submit)', RefusedError, EXIT.refused, /^refused the job/],
    [500, '/status', 'boom', RefusedError, EXIT.refused, /^the node at http:\/\/n failed: boom$/],
    [404, '/nothing', 'No route GET /nothing', NotFoundError, EXIT.notFound, /has no \/nothing \(is it an older meshwork\?\)/],
  ] as const)('%i on %s', (status, path, message, kind, exitCode, text) => {
    const err = answerError(status, path, message, 'http://n')
    expect(err).toBeInstanceOf(kind)
    expect((err as unknown as { exitCode: number }).exitCode).toBe(exitCode)
    expect(err.message).toMatch(text)
    expect(err.message).not.toMatch(/\b(GET|POST) \/|\((40\d|500)\)/)
  })

  describe('through the client', () => {
    let server: Server
    let url: string
    beforeAll(async () => {
      server = createServer((req, res) => { res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unknown job ${req.url?.split('/')[2]}: no live node knows it` })) })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    })
    afterAll(() => { server.close() })

    it('GET /jobs/ID of an unknown job is a NotFoundError naming the job', async () => {
      await expect(new MeshClient(url, 't').get('/jobs/nosuchjob')).rejects.toThrow(NotFoundError)
      await expect(new MeshClient(url, 't').get('/jobs/nosuchjob')).rejects.toThrow(/^no job nosuchjob on this node/)
    })

    it('meshwork result of an unknown job: the prefix, the job, exit code 3', async () => {
      const r = await runCli(['result', 'nosuchjob', '--api', url], 60_000, { ...process.env, MESHWORK_TOKEN: 't' })
      expect(r.code).toBe(EXIT.notFound)
      expect(r.stderr).toMatch(/^meshwork: no job nosuchjob on this node/)
      expect(r.stderr).not.toMatch(/GET|404/)
    })
  })
})

describe('usage errors', () => {
  it.each([
    [['--bogus'], /^meshwork: unknown option '--bogus'/],
    [['status', '--bogus'], /^meshwork: unknown option '--bogus'/],
    [['start', '--port'], /^meshwork: option '--port <n>' argument missing/],
    [['nosuchcommand'], /^meshwork: unknown command 'nosuchcommand'/],
    [['start', '--scratch-retention', '7x'], /^meshwork: --scratch-retention must be a duration/],
    [['sim', '--bogus'], /^meshwork: unknown option '--bogus'/],
    [['sim', '--nodes', 'x'], /^meshwork: --nodes must be a whole number, got "x"$/m],
    [['sim', '--arch', 'nope'], /^meshwork: --arch: unknown architecture "nope"/],
  ])('meshwork %j: one prefix, exit code 2', async (args, message) => {
    const r = await runCli(args, 60_000)
    expect(r.code).toBe(EXIT.usage)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/^error:/m)
  })

  it('meshwork sim --help is commander\'s, with its examples', async () => {
    const r = await runCli(['sim', '--help'], 60_000)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Usage: meshwork sim \[options\]/)
    expect(r.stdout).toContain('--faults <spec>')
    expect(r.stdout).not.toContain('node dist/sim/cli.js')
  })

  it('no node to talk to is exit code 4', async () => {
    const r = await runCli(['status', '--api', 'http://127.0.0.1:9'], 60_000)
    expect(r.code).toBe(EXIT.noNode)
    expect(r.stderr).toMatch(/^meshwork: Cannot reach the node at http:\/\/127\.0\.0\.1:9/)
  })
})
