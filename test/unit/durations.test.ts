import { describe, expect, it } from 'vitest'
import { DurationSamples } from '../../src/jobs/durations.js'
import { seededRandom } from '../../src/util/prng.js'

/** The median by sorting, as the samples' definition says (mean of the middle two for an even count). */
function sortedMedian (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

describe('DurationSamples', () => {
  it('has no median before its first sample', () => {
    expect(new DurationSamples(8).median()).toBeUndefined()
  })

  it('gives the median of the last `capacity` samples, odd and even counts, with duplicates', () => {
    const random = seededRandom(7)
    for (let round = 0; round < 300; round++) {
      const capacity = 1 + Math.floor(random() * 40)
      const samples = new DurationSamples(capacity)
      const added: number[] = []
      const adds = 1 + Math.floor(random() * 90)
      for (let i = 0; i < adds; i++) {
        // Few distinct values half of the time: duplicates around the middle are the hard case.
        const v = round % 2 === 0 ? Math.floor(random() * 4) : random() * 100
        samples.add(v)
        added.push(v)
        expect(samples.median()).toBe(sortedMedian(added.slice(-capacity)))
      }
    }
  })

  it('ignores negative and non-finite durations', () => {
    const samples = new DurationSamples(4)
    samples.add(3)
    samples.add(-1)
    samples.add(Number.NaN)
    samples.add(Number.POSITIVE_INFINITY)
    expect(samples.size).toBe(1)
    expect(samples.median()).toBe(3)
  })
})
