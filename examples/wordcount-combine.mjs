// Word count with a combiner: the same split, map and reduce as wordcount.mjs, plus combine(),
// which each worker runs over a group of its finished tasks before anything travels (Hadoop's
// combiner): a node then ships one table of counts per group instead of one per part.
// combine() must return what map() returns (reduce may get either), and may run any number of times.
//   meshwork submit examples/wordcount-combine.mjs --input big.txt --parts 64

import wordcount, { mergeCounts } from './wordcount.mjs'

export default {
  ...wordcount,
  combine (results) {
    return mergeCounts(results)
  },
}
