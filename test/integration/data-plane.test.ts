import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalMesh, waitForFullMesh } from '../../src/node/testing/local-mesh.js'
import { MeshClient } from '../../src/node/cli/client.js'
import { followJob, prepareJob, sendJob } from '../../src/node/cli/submit.js'
import { runCli, submitJson } from '../helpers/cli.js'
import { wordCounts } from '../helpers/word-counts.js'

// Stored input on a real 3-node mesh: files uploaded as bytes to the node the client talks to,
// cut into ranges of whole lines that every worker reads from that node peer to peer.

const root = join(import.meta.dirname, '..', '..')
const wordcount = join(root, 'examples', 'wordcount.mjs')
const wordcountCombine = join(root, 'examples', 'wordcount-combine.mjs')
let mesh: LocalMesh
let work: string
const api = (i: number): string => mesh.nodes[i]!.apiUrl

/** What examples/wordcount.mjs reports of a text's words, computed here independently. */
function reference (text: string): { words: number, distinct: number } {
  const counts = wordCounts(text)
  return { words: [...counts.values()].reduce((a, b) => a + b, 0), distinct: counts.size }
}

/** Blobs stored on every node (their data dirs' blob stores). */
function blobCount (): number {
  return mesh.nodes.reduce((n, node) => { try { return n + readdirSync(join(node.dataDir, 'blobs'), { recursive: true }).length } catch { return n } }, 0)
}

function corpus (lines: number, seed: number): string {
  const out: string[] = []
  for (let i = 0; i < lines; i++) out.push(`w${(i * seed) % 977} ünï${i % 13} alpha${i % 101} beta ${'x'.repeat(i % 50)}`)
  return out.join('\n') + '\n'
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshwork-data-plane-'))
  mkdirSync(join(work, 'shared'))
  mesh = await LocalMesh.start({ nodes: 3, args: ['--slots', '2', '--shared-dir', join(work, 'shared')] })
  await waitForFullMesh(mesh, 3, 60_000)
})
afterAll(async () => {
  await mesh?.stop()
  rmSync(work, { recursive: true, force: true })
})

describe('stored input', () => {
  it('a file is read in ranges of whole lines on every node: the same counts as one process', async () => {
    const text = corpus(60_000, 7)
    const file = join(work, 'corpus.txt')
    writeFileSync(file, text)
    const out = await submitJson(api(1), [wordcount, '--input', file, '--parts', '30'])
    const result = out.result as { words: number, distinct: number }
    expect(result).toMatchObject(reference(text))
    expect(out.tasks).toBe(30)
    // Read where it lies: the two nodes that do not hold the file ran tasks too.
    const holder = mesh.nodes[1]!.peerId
    expect(Object.entries(out.tasksByPeer).filter(([p, n]) => p !== holder && n > 0).length).toBeGreaterThanOrEqual(1)
  })

  it('a combiner folds results on the workers: the same counts, fewer results reach the reduce', async () => {
    const text = corpus(60_000, 11)
    const file = join(work, 'corpus-combine.txt')
    writeFileSync(file, text)
    const plain = await submitJson(api(0), [wordcount, '--input', file, '--parts', '40'])
    const combined = await submitJson(api(0), [wordcountCombine, '--input', file, '--parts', '40'])
    expect(combined.result).toEqual(plain.result)
    expect(combined.result).toMatchObject(reference(text))
    expect(combined.tasks).toBe(40)
    const tally = await submitJson(api(2), [join(root, 'test', 'fixtures', 'jobs', 'combine-tally.mjs'), '--input-json', '{"tasks":96}', '--parts', '96'])
    const r = tally.result as { reduced: number, tasks: number[], foldedOn: number }
    // Every task's result exactly once, in fewer results than tasks, folded on more than one node.
    expect(r.tasks).toEqual(Array.from({ length: 96 }, (_, i) => i))
    expect(r.reduced).toBeLessThan(96 / 2)
    expect(r.foldedOn).toBeGreaterThanOrEqual(2)
  })

  it('a shared path is read in place on every node: nothing uploaded, the same counts', async () => {
    const text = corpus(40_000, 13)
    const file = join(work, 'shared', 'corpus.txt')
    writeFileSync(file, text)
    const blobsBefore = blobCount()
    const out = await submitJson(api(0), [wordcount, '--input-shared', file, '--parts', '24'])
    expect(out.result).toMatchObject(reference(text))
    expect(out.tasks).toBe(24)
    expect(Object.values(out.tasksByPeer).filter(n => n > 0).length).toBeGreaterThanOrEqual(2)
    expect(blobCount()).toBe(blobsBefore)
  })

  it('a shared path outside the nodes\' --shared-dir is not read; a missing one is refused at once', async () => {
    const outside = join(work, 'outside.txt')
    writeFileSync(outside, 'secret words\n')
    const denied = await runCli(['submit', wordcount, '--input-shared', outside, '--api', api(1)])
    expect(denied.code).toBe(1)
    expect(denied.stderr).toMatch(/input-denied: shared input "outside.txt" \(.*\) is outside the directories this node shares/)
    // A symlink inside the shared dir to a file outside it is no way around.
    symlinkSync(outside, join(work, 'shared', 'link.txt'))
    const linked = await runCli(['submit', wordcount, '--input-shared', join(work, 'shared', 'link.txt'), '--api', api(1)])
    expect(linked.stderr).toMatch(/is outside the directories this node shares/)
    const missing = await runCli(['submit', wordcount, '--input-shared', join(work, 'shared', 'nope.txt'), '--api', api(1)])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/shared input .*nope\.txt is not on this node/)
  })

  it('a directory gives one task per file', async () => {
    const dir = join(work, 'docs')
    mkdirSync(join(dir, 'sub'), { recursive: true })
    const texts = [corpus(300, 3), corpus(10, 5), '', corpus(1000, 11)]
    const names = ['a.txt', 'b.txt', 'empty.txt', join('sub', 'c.txt')]
    names.forEach((n, i) => writeFileSync(join(dir, n), texts[i]!))
    writeFileSync(join(dir, '.hidden'), 'secret words here\n')
    const out = await submitJson(api(0), [wordcount, '--input', dir])
    expect(out.tasks).toBe(4)
    expect(out.result).toMatchObject(reference(texts.join('')))
  })

  it('a job naming a blob the node does not hold is refused, naming the input', async () => {
    const client = new MeshClient(api(2), mesh.token)
    const job = await prepareJob(wordcount, undefined)
    const err = await client.post('/jobs', { ...job.request, input: { type: 'blobs', files: [{ blob: 'f'.repeat(64), name: 'gone.txt' }] } }).catch(e => e as Error)
    expect(String(err)).toMatch(/input "gone.txt": this node holds no blob f{64}; upload the file with PUT \/blobs first/)
  })

  it('bytes given to the programmatic API are uploaded, not inlined', async () => {
    const client = new MeshClient(api(0), mesh.token)
    const text = corpus(2000, 13)
    const { jobId } = await sendJob(client, await prepareJob(wordcount, { bytes: Buffer.from(text) }, { parts: 4 }))
    const record = await followJob(client, jobId)
    expect(record.state).toBe('done')
    expect(record.result).toMatchObject(reference(text))
  })

  it('an upload without the token is refused', async () => {
    const r = await fetch(`${api(0)}/blobs`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'abc' })
    expect(r.status).toBe(401)
    const bad = await runCli(['submit', wordcount, '--input', join(work, 'nope.txt'), '--api', api(0)])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/cannot read input file .*nope\.txt: no such file or directory/)
  })
})
