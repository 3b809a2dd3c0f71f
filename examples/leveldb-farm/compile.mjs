// The one compile command line of the LevelDB farm, shared by the job module (farm.mjs), the
// local make build (run.mjs) and the integration test: run from a dir holding the project's
// files at their relative paths, it writes the object next to its source.

/** SOURCE with .o for its .cc / .cpp / .cxx / .c */
export const objectOf = source => source.replace(/\.(cc|cpp|cxx|c)$/, '.o')

/**
 * The `c++` arguments for one unit `{ source, flags }` compiled from `dir`. -ffile-prefix-map
 * maps `dir` to `.`, so objects built from different dirs match (with -g too).
 */
export const compileArgs = (unit, dir) => [...unit.flags, `-ffile-prefix-map=${dir}=.`, '-c', unit.source, '-o', objectOf(unit.source)]
