// An action job: every task writes its output to a store on the node that runs it (JSON-lines
// files in the task's scratch dir inside that node's data dir) and returns nothing; the job
// reports only how many tasks succeeded and where.
//   meshwork submit examples/store-action.mjs --input-json '{"records":1000}' --parts 10
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function recordsFor (from, to) {
  const lines = []
  for (let i = from; i < to; i++) lines.push(JSON.stringify({ id: i, square: i * i }))
  return lines.join('\n') + '\n'
}

export default {
  kind: 'action',
  split (input, ctx) {
    const records = input?.records ?? 100
    const parts = Math.max(1, ctx.parts ?? 4)
    const step = Math.ceil(records / parts)
    const chunks = []
    for (let a = 0; a < records; a += step) chunks.push({ from: a, to: Math.min(records, a + step) })
    return chunks
  },
  map ({ from, to }, ctx) {
    writeFileSync(join(ctx.scratchDir, `records-${from}-${to}.jsonl`), recordsFor(from, to))
  },
}
