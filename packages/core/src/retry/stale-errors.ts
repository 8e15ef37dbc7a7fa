/**
 * Which errors mean "the pooled socket was already dead when we used it".
 *
 * The same idle-close race surfaces as any of these codes at random (see the field reference), so they are
 * treated as one class. Whether such an error may be retried is decided elsewhere: the shape alone says
 * nothing about reuse or about whether the server saw the request.
 */
const STALE_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

interface ErrorWithCode {
  code?: unknown
  message?: unknown
  cause?: unknown
}

function asErrorLike(value: unknown): ErrorWithCode | undefined {
  return typeof value === 'object' && value !== null ? (value as ErrorWithCode) : undefined
}

/** True when the error itself (not its cause) has a stale-socket shape. */
export function hasStaleSocketShape(error: unknown): boolean {
  const e = asErrorLike(error)
  if (!e) return false
  if (typeof e.code === 'string' && STALE_CODES.has(e.code)) return true
  // node:http clients report the race as `socket hang up`; some wrappers drop the code.
  return e.message === 'socket hang up'
}

/**
 * True for every shape a stale keep-alive socket produces: the bare cause (`ECONNRESET`, `EPIPE`,
 * `UND_ERR_SOCKET`, `socket hang up`) or fetch's `TypeError('fetch failed')` wrapping one.
 *
 * A body that breaks after the response headers arrived (fetch's `TypeError: terminated`) is not a stale
 * socket: the connection was alive enough to answer, and such a failure must never be replayed.
 */
export function isStaleSocketError(error: unknown): boolean {
  const e = asErrorLike(error)
  if (!e) return false
  if (hasStaleSocketShape(e)) return true
  if (e instanceof TypeError && e.message === 'terminated') return false
  return e.cause !== undefined && hasStaleSocketShape(e.cause)
}
