/** Word counts as examples/wordcount.mjs defines them, computed independently of its code. */
export function wordCounts (text: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const raw of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    const w = raw.replace(/^'+|'+$/g, '')
    if (w !== '') counts.set(w, (counts.get(w) ?? 0) + 1)
  }
  return counts
}
