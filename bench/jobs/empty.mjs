// Benchmark job: N empty tasks. Input: { tasks: N }.
export default {
  kind: 'function',
  split (input) { return new Array(input.tasks).fill(0) },
  map () { return 0 },
  reduce (results) { return results.length },
}
