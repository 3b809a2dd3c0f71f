import { terminalSafe } from './terminal-text.js'
import { shortPeer } from '../../util/short-peer.js'

// Human-readable formatting for the CLI: sizes, percentages, aligned tables, colour.

/** Colour on a terminal, never when NO_COLOR is set (no-color.org); FORCE_COLOR=1 forces it (e.g. through a pager). */
export function useColourOn (stream: { isTTY?: boolean }): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '' && process.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true
}

const useColour = (): boolean => useColourOn(process.stdout)

export function colour (code: number, text: string): string {
  return useColour() ? `\x1b[${code}m${text}\x1b[0m` : text
}

export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

export function percent (fraction: number): string { return `${Math.round(fraction * 100)}%` }

/** Peer ids are long; the tail is what differs between Ed25519 ids. */
export function shortId (peerId: string): string { return terminalSafe(shortPeer(peerId)) }

export function table (header: string[], rows: string[][]): string {
  const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '')
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => strip(r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c + ' '.repeat((widths[i] ?? 0) - strip(c).length)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
