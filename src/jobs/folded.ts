// A task whose result a worker's combine() folded into another task's result of the same group
// (Hadoop's combiner): the task is done, and its result is already inside that other one. The
// cores keep FOLDED in the task's result slot; on the wire a folded done entry has no value, and
// the reduce is given only the results that are not folded.

export const FOLDED: unique symbol = Symbol('meshwork.folded')

export function isFolded (result: unknown): result is typeof FOLDED {
  return result === FOLDED
}

/** The results a reduce is given: every one not folded into another. */
export function unfolded (results: readonly unknown[]): unknown[] {
  return results.some(isFolded) ? results.filter(r => !isFolded(r)) : [...results]
}
