/**
 * The `max` of a response's `Keep-Alive` header (`Keep-Alive: timeout=5, max=99`): how many more requests
 * the server accepts on this connection. Read from undici's raw header list without building a header
 * object, so a response without the header costs a length check per header name, and nothing allocated.
 */
export function keepAliveMaxOf(rawHeaders: readonly (Buffer | string)[]): number | null {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length !== 10) continue
    // `Connection` is 10 long too, and on nearly every response: tell them apart by the first letter first.
    const first = typeof name === 'string' ? name.charCodeAt(0) : name[0]!
    if ((first | 0x20) !== 0x6b || String(name).toLowerCase() !== 'keep-alive') continue
    const match = /(?:^|[\s,;])max\s*=\s*(\d+)/i.exec(String(rawHeaders[i + 1]))
    return match ? Number(match[1]) : null
  }
  return null
}
