// Text from the mesh (a job's module name, error texts, labels, a node's answers) on its way to
// a terminal. A module named `x\x1b]0;owned\x07.mjs`, or an error holding `\x1b[2J` or a bidi
// override, would otherwise move the cursor, retitle the window, clear the screen or reorder
// what the operator reads. Every such character is shown as a `\uXXXX` escape instead: visible,
// and still valid inside a JSON string, so pretty-printed JSON stays JSON.

/**
 * C0 controls (U+0000–U+001F, ESC and CR among them), DEL, C1 controls (U+0080–U+009F, which
 * some terminals obey as CSI/OSC), the bidi embeddings, overrides and isolates, the ALM and the
 * LRM/RLM marks, and the line and paragraph separators (which some terminals break lines on).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** The same, but newlines and tabs pass: for multi-line texts such as errors. */
const UNSAFE_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`

/** `text` with every terminal control character replaced by its `\uXXXX` escape. */
export function terminalSafe (text: string, opts: { keepNewlines?: boolean } = {}): string {
  return String(text).replace(opts.keepNewlines === true ? UNSAFE_KEEP_LINES : UNSAFE, escapeChar)
}
