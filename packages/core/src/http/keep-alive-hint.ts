/**
 * The `max` of a response's `Keep-Alive` header (`Keep-Alive: timeout=5, max=99`): how many more requests
 * the server accepts on this connection. Read from undici's raw header list byte by byte, without building a
 * header object or a string: Node's own servers send `Keep-Alive: timeout=5` on every response, so the header
 * is there on most responses and its value is read on every one.
 */
export function keepAliveMaxOf(rawHeaders: readonly (Buffer | string)[]): number | null {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length !== KEEP_ALIVE.length || !isKeepAlive(name)) continue
    return maxParameterOf(rawHeaders[i + 1]!)
  }
  return null
}

const KEEP_ALIVE = 'keep-alive'

const codeAt = (text: Buffer | string, index: number): number =>
  typeof text === 'string' ? text.charCodeAt(index) : text[index]!

/** The name compared case-insensitively (`| 0x20` lowers letters and leaves `-` as it is). */
function isKeepAlive(name: Buffer | string): boolean {
  for (let i = 0; i < KEEP_ALIVE.length; i++) if ((codeAt(name, i) | 0x20) !== KEEP_ALIVE.charCodeAt(i)) return false
  return true
}

const SPACE = 0x20
const TAB = 0x09
const COMMA = 0x2c
const SEMICOLON = 0x3b
const EQUALS = 0x3d

/**
 * `max` as a parameter of its own (at the start, or after a space, tab, comma or semicolon), case-insensitive,
 * spaces allowed around `=`, then its digits; the first such parameter with digits wins, as in
 * `/(?:^|[\s,;])max\s*=\s*(\d+)/i`.
 */
function maxParameterOf(value: Buffer | string): number | null {
  const length = value.length
  for (let start = 0; start + 3 < length; start++) {
    if (start > 0) {
      const before = codeAt(value, start - 1)
      if (before !== SPACE && before !== TAB && before !== COMMA && before !== SEMICOLON) continue
    }
    if (
      (codeAt(value, start) | 0x20) !== 0x6d ||
      (codeAt(value, start + 1) | 0x20) !== 0x61 ||
      (codeAt(value, start + 2) | 0x20) !== 0x78
    )
      continue
    let at = start + 3
    while (at < length && isSpace(codeAt(value, at))) at++
    if (at >= length || codeAt(value, at) !== EQUALS) continue
    at++
    while (at < length && isSpace(codeAt(value, at))) at++
    let digits = 0
    let max = 0
    for (; at < length; at++, digits++) {
      const code = codeAt(value, at)
      if (code < 0x30 || code > 0x39) break
      max = max * 10 + (code - 0x30)
    }
    if (digits > 0) return max
  }
  return null
}

const isSpace = (code: number): boolean => code === SPACE || code === TAB
