// How many cases each property runs in CI. FUZZ_SCALE multiplies them for a longer local soak
// (e.g. FUZZ_SCALE=20 npx vitest run test/fuzz). Every failure prints fast-check's seed and path,
// which replay it exactly.
const scale = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1))

/** Decoders: one input per case, cheap. */
export const DECODER_RUNS = 2000 * scale
/** Cores: one case is a whole random history of events (up to ~150 steps). */
export const CORE_RUNS = 400 * scale
/** Cases that touch the file system. */
export const FILE_RUNS = 200 * scale
