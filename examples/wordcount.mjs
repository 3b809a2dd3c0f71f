// Word count over a text (MapReduce): split the text into parts at line boundaries, count
// words per part on any peer, merge the counts and report the most frequent words.
//   meshwork submit examples/wordcount.mjs --input examples/corpus/licenses.txt --parts 12

const TOP = 20

export function countWords (text) {
  const counts = {}
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    const w = word.replace(/^'+|'+$/g, '')
    if (w !== '') counts[w] = (counts[w] ?? 0) + 1
  }
  return counts
}

export function mergeCounts (all) {
  const total = {}
  for (const counts of all) for (const [w, n] of Object.entries(counts)) total[w] = (total[w] ?? 0) + n
  return total
}

export function summarize (counts) {
  const entries = Object.entries(counts)
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return { words: entries.reduce((n, [, c]) => n + c, 0), distinct: entries.length, top: entries.slice(0, TOP) }
}

export default {
  kind: 'function',
  split (input, ctx) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8')
    const parts = Math.max(1, ctx.parts ?? 8)
    const size = Math.ceil(text.length / parts)
    const chunks = []
    let start = 0
    while (start < text.length) {
      let end = Math.min(text.length, start + size)
      const newline = text.indexOf('\n', end)
      end = end === text.length || newline === -1 ? text.length : newline + 1
      chunks.push(text.slice(start, end))
      start = end
    }
    return chunks
  },
  map (chunk) {
    return countWords(chunk)
  },
  reduce (results) {
    return summarize(mergeCounts(results))
  },
}
