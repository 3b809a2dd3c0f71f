import ms from 'ms'
import bytesIec from 'bytes-iec'

// Human units on the command line and in its output: durations (`500ms`, `2.5s`, `7d`, through
// `ms`) and sizes (`256MiB`, `1.5 GiB`, `64KB`, through `bytes-iec`: KiB/MiB/GiB are powers of
// 1024, kB/MB/GB powers of 1000). A bare number keeps its old meaning, the flag's unit (`bare`),
// so every value the raw `-ms` / `-bytes` flags took still works.

export type DurationUnit = 'ms' | 's'
export type SizeUnit = 'B' | 'KiB' | 'MiB'

const DURATION_FACTOR: Record<DurationUnit, number> = { ms: 1, s: 1000 }
const SIZE_FACTOR: Record<SizeUnit, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2 }
const BARE_NUMBER = /^\d+(\.\d+)?$/
/** `ms` reads "1e3" and "-1s"; a duration here is a non-negative number followed by one unit. */
const DURATION_TEXT = /^\d+(\.\d+)?\s*[a-z]+$/i

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration (value: unknown, bare: DurationUnit = 'ms'): number | undefined {
  let out: number | undefined
  if (typeof value === 'number') out = value * DURATION_FACTOR[bare]
  else if (typeof value === 'string') {
    const text = value.trim()
    if (BARE_NUMBER.test(text)) out = Number(text) * DURATION_FACTOR[bare]
    else if (DURATION_TEXT.test(text)) out = ms(text as ms.StringValue) as number | undefined
  }
  return out !== undefined && Number.isFinite(out) && out >= 0 ? Math.round(out) : undefined
}

/** Bytes, or undefined when the text is not a size. */
export function parseSize (value: unknown, bare: SizeUnit = 'B'): number | undefined {
  let out: number | undefined
  if (typeof value === 'number') out = value * SIZE_FACTOR[bare]
  else if (typeof value === 'string') {
    const text = value.trim()
    if (BARE_NUMBER.test(text)) out = Number(text) * SIZE_FACTOR[bare]
    else if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(text)) out = bytesIec.parse(text) ?? undefined
  }
  return out !== undefined && Number.isFinite(out) && out >= 0 ? Math.floor(out) : undefined
}

const DURATION_UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]]

/** 604800000 → "7d", 90000 → "90s", 2500 → "2.5s", 150 → "150ms": exact where a unit fits. */
export function formatDuration (msValue: number): string {
  if (!Number.isFinite(msValue)) return String(msValue)
  if (msValue === 0) return '0'
  for (const [unit, size] of DURATION_UNITS) if (msValue >= size && msValue % size === 0) return `${msValue / size}${unit}`
  if (msValue >= 1000) {
    // Not a whole number of any unit: the largest unit it reaches, to three significant digits.
    const [unit, size] = DURATION_UNITS.find(([, size]) => msValue >= size) as [string, number]
    return `${Number((msValue / size).toPrecision(3))}${unit}`
  }
  return `${Number(msValue.toPrecision(3))}ms`
}

const SIZE_UNITS: Array<[string, number]> = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]]

/** 268435456 → "256MiB", 65536 → "64KiB", 1000 → "1000B": exact where a unit fits, else one decimal. */
export function formatSize (n: number): string {
  for (const [unit, size] of SIZE_UNITS) if (n >= size && n % size === 0) return `${n / size}${unit}`
  const unit = SIZE_UNITS.find(([, size]) => n >= size)
  return unit === undefined ? `${n}B` : `${(n / unit[1]).toFixed(1)}${unit[0]}`
}
