import { createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { seededRandom } from '../../src/util/prng.js'

// A deterministic text corpus for the word-count workload: words drawn with a Zipf-like
// distribution (rank r has weight 1 / r^1.05) from a vocabulary made of the distinct words of
// the bundled corpus (examples/corpus/, most frequent first) followed by synthetic words
// (seeded syllable strings) up to VOCABULARY words. Lines of 6–17 words. The same size and
// seed always give the same bytes.

export const VOCABULARY = 30_000
const ZIPF_EXPONENT = 1.05
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'bra', 'del', 'fin', 'gor', 'hul', 'jas', 'kem', 'lun', 'mor', 'nix', 'pra', 'quo', 'ris', 'sto', 'tra', 'urb', 'vel', 'wyn', 'xan', 'yor', 'zul']

export function vocabulary (bundledCorpus: string, seed: number): string[] {
  const counts = new Map<string, number>()
  for (const m of bundledCorpus.toLowerCase().match(/[a-z]+/g) ?? []) counts.set(m, (counts.get(m) ?? 0) + 1)
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w).slice(0, VOCABULARY)
  const seen = new Set(words)
  const rnd = seededRandom(seed ^ 0x5eed)
  while (words.length < VOCABULARY) {
    const n = 2 + Math.floor(rnd() * 3)
    let w = ''
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rnd() * SYLLABLES.length)]
    if (!seen.has(w)) { seen.add(w); words.push(w) }
  }
  return words
}

/** Writes about `bytes` bytes (whole lines, never more) to `path`; returns the exact size. */
export async function generateCorpus (path: string, bytes: number, root: string, seed = 42): Promise<number> {
  const words = vocabulary(readFileSync(join(root, 'examples', 'corpus', 'licenses.txt'), 'utf8'), seed)
  const cumulative = new Float64Array(words.length)
  let total = 0
  for (let r = 0; r < words.length; r++) { total += 1 / Math.pow(r + 1, ZIPF_EXPONENT); cumulative[r] = total }
  const rnd = seededRandom(seed)
  const pick = (): string => {
    const x = rnd() * total
    let lo = 0
    let hi = words.length - 1
    while (lo < hi) { const mid = (lo + hi) >>> 1; if ((cumulative[mid] as number) < x) lo = mid + 1; else hi = mid }
    return words[lo] as string
  }
  const out = createWriteStream(path)
  let written = 0
  const blockBytes = 1 << 20
  for (;;) {
    let block = ''
    while (block.length < blockBytes) {
      const n = 6 + Math.floor(rnd() * 12)
      let line = pick()
      for (let i = 1; i < n; i++) line += ' ' + pick()
      const withNewline = line + '\n'
      if (written + block.length + withNewline.length > bytes) break
      block += withNewline
    }
    if (block.length === 0) break
    written += block.length
    if (!out.write(block)) await new Promise<void>(resolve => out.once('drain', () => resolve()))
    if (block.length < blockBytes) break
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => err ? reject(err) : resolve()))
  return written
}
