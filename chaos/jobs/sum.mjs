// Chaos-suite job with a checkable result: tasks sleep `ms` and return 2 × value; the job
// returns the sum. Input: { values: number[], ms: number }.
export default {
  kind: 'function',
  split (input) { return input.values.map(v => ({ v, ms: input.ms })) },
  async map ({ v, ms }) {
    await new Promise(resolve => setTimeout(resolve, ms))
    return 2 * v
  },
  reduce (results) { return results.reduce((a, b) => a + b, 0) },
}
