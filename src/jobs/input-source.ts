import { z } from 'zod'
import { PeerIdSchema } from './ids.js'

// A job's input as stored files (content-addressed blobs) rather than bytes inside messages,
// and how it becomes tasks: one file is cut into byte ranges that each own the records starting
// in them (Hadoop's input splits), several files give one task each. Which bytes a range's task
// reads is decided here, purely, so the worker that fetches them and the tests agree.

/** A blob's id: the sha256 (hex) of its manifest, which lists the sha256 of every block (blob-manifest.ts). */
export const BlobIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a blob id (sha256 hex)')
export const BLOB_NAME_MAX = 256

/** A path every node of the mesh has (`--input-shared`, e.g. on NFS): absolute, normalised. */
export const SharedPathSchema = z.string().min(2).max(4096).regex(/^\/(?!.*(^|\/)\.\.?(\/|$))[^\0]*$/, 'an absolute path without . or .. parts')

/** A stored blob (`blob`: read where it lies, peer to peer) or a shared path (`path`: read on each node locally). */
export const SourceFileSchema = z.object({
  blob: BlobIdSchema.optional(),
  path: SharedPathSchema.optional(),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** The file's name as the user gave it, for messages ("input corpus.txt is gone"). */
  name: z.string().max(BLOB_NAME_MAX),
}).strict().refine(f => (f.blob === undefined) !== (f.path === undefined), 'a file is a blob or a shared path, one of them')
export type SourceFile = z.infer<typeof SourceFileSchema>

/**
 * How records are cut: at a delimiter (a line by default, '\n'), or not at all (`file`: each
 * file is one task), or by the module (`whole`: its split() gets the whole file, as bytes, on
 * the coordinator). `encoding`: what `map` receives, text (UTF-8, checked) or the bytes.
 */
export const RecordsSchema = z.object({
  delimiter: z.string().min(1).max(64).optional(),
  file: z.literal(true).optional(),
  whole: z.literal(true).optional(),
  encoding: z.enum(['utf8', 'bytes']).optional(),
}).strict().refine(r => [r.file, r.whole, r.delimiter].filter(v => v !== undefined).length <= 1, 'give one of delimiter, file or whole')
export type Records = z.infer<typeof RecordsSchema>

export const DEFAULT_DELIMITER = '\n'
export const SOURCE_FILES_MAX = 100_000

/** Where a job's input lies: files held by `holders` (the node whose API received them). */
export const InputSourceSchema = z.object({
  files: z.array(SourceFileSchema).min(1).max(SOURCE_FILES_MAX),
  holders: z.array(PeerIdSchema).min(1).max(16),
  records: RecordsSchema.optional(),
}).strict()
export type InputSource = z.infer<typeof InputSourceSchema>

/** What a task's assign says about reading its chunk (the files travel in the chunks). */
export const SourceRefSchema = z.object({
  holders: z.array(PeerIdSchema).min(1).max(16),
  records: RecordsSchema.optional(),
}).strict()
export type SourceRef = z.infer<typeof SourceRefSchema>

/** One task's share of the input: the records starting in [start, end) of `file`. */
export const InputSplitSchema = z.object({
  file: SourceFileSchema,
  start: z.number().int().min(0),
  end: z.number().int().min(0),
}).strict().refine(s => s.start <= s.end && s.end <= s.file.size, 'a split lies inside its file')
export type InputSplit = z.infer<typeof InputSplitSchema>

export function sourceRefOf (source: InputSource): SourceRef {
  return { holders: source.holders, ...(source.records !== undefined ? { records: source.records } : {}) }
}

/**
 * The tasks of a source: several files give one each (empty files included, so every file is
 * seen by `map`); one file is cut into `parts` ranges of equal size (fewer when it is small:
 * never under `minSplitBytes` each), or kept whole when records are whole files.
 */
export function planSplits (source: InputSource, parts: number, minSplitBytes = 64 * 1024): InputSplit[] {
  const [only] = source.files
  if (source.files.length > 1 || only === undefined || source.records?.file === true) {
    return source.files.map(file => ({ file, start: 0, end: file.size }))
  }
  const n = Math.max(1, Math.min(Math.floor(parts), Math.ceil(only.size / minSplitBytes)))
  const splits: InputSplit[] = []
  for (let i = 0; i < n; i++) {
    const start = Math.floor(only.size * i / n)
    const end = Math.floor(only.size * (i + 1) / n)
    splits.push({ file: only, start, end })
  }
  return splits
}

/**
 * The bytes a split's records span, found in `window` (the file's bytes from `windowStart`).
 * A record belongs to the split its first byte lies in: a split other than the file's first
 * skips to just past the first delimiter ending at or after `start`, and every split reads on
 * to just past the first delimiter ending at or after `end` (or the end of the file). Answers
 * `more` with the file offset the window must reach when it ends before the answer is known.
 */
export type RecordSpan = { from: number, to: number } | { more: number }

export function recordSpan (split: InputSplit, window: Uint8Array, windowStart: number, delimiter: Uint8Array): RecordSpan {
  const { start, end } = split
  const size = split.file.size
  const L = delimiter.length
  const windowEnd = windowStart + window.length
  const lo = Math.max(0, start - L)
  if (windowStart > lo) throw new RangeError(`the window starts at ${windowStart}, after ${lo}`)
  let from = 0
  if (start > 0) {
    if (windowEnd < end) return { more: end }
    // A delimiter ending at or after `start` but before `end` starts this split's first record.
    const q = indexOf(window, delimiter, lo - windowStart, end - L - windowStart)
    if (q < 0) return { from: end, to: end } // no record starts here: its bytes belong to the one before
    from = windowStart + q + L
  }
  if (end >= size) return windowEnd >= size ? { from, to: size } : { more: size }
  const q = indexOf(window, delimiter, Math.max(end - L, from) - windowStart, window.length)
  if (q >= 0) return { from, to: windowStart + q + L }
  return windowEnd >= size ? { from, to: size } : { more: windowEnd + 1 }
}

/** The first index of `needle` wholly in `hay`, at or after `from` and before `before`; else -1. */
function indexOf (hay: Uint8Array, needle: Uint8Array, from: number, before: number): number {
  const last = Math.min(before, hay.length - needle.length + 1)
  const first = Math.max(0, from)
  if (needle.length === 1) {
    const at = hay.indexOf(needle[0] as number, first)
    return at >= 0 && at < last ? at : -1
  }
  outer: for (let i = first; i < last; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
