import type { RetryDecision } from '../retry/retry-decision.js'

/**
 * What staleguard knows about a request that failed, attached to the error the caller receives.
 *
 * The error keeps fetch's shape (`TypeError('fetch failed')` with the original cause), so existing
 * `catch` code keeps working; the diagnostics ride on the cause under a registered symbol and are read
 * with {@link getStaleguardDiagnostics}.
 */
export interface StaleguardDiagnostics {
  /** The origin the request was sent to (`https://api.example.com`). */
  readonly origin: string
  /** The request's method, as sent. */
  readonly method: string
  /** The request's path and query. */
  readonly path: string
  /** The failed socket had carried an earlier request. */
  readonly reused: boolean
  /** How long that socket had been idle before this request, in ms (null when the socket was never reached). */
  readonly idleMs: number | null
  /** The attempt that failed, 1-based: also the attempts made, that one included. */
  readonly attempt: number
  /** The error looks like a dead pooled socket (ECONNRESET, EPIPE, UND_ERR_SOCKET). */
  readonly staleSocketError: boolean
  /** Why the last failure was, or was not, retried. */
  readonly retryDecision: RetryDecision
  /** The incoming request's id, when the call came through a framework adapter. */
  readonly requestId: string | undefined
  /** One or two sentences for logs and humans. */
  readonly explanation: string
}

const kDiagnostics = Symbol.for('staleguard.diagnostics')

/** The diagnostics staleguard attached to this error or to its cause, if any. */
export function getStaleguardDiagnostics(error: unknown): StaleguardDiagnostics | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const found = (current as { [kDiagnostics]?: StaleguardDiagnostics })[kDiagnostics]
    if (found) return found
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Attaches a request's diagnostics to the error it fails with, and returns the error to hand on. undici
 * fails every request on a connection that ends with one error object (an HTTP/2 GOAWAY's), so an undici
 * error that carries another request's diagnostics already is handed on as a copy of its own.
 */
export function attachDiagnostics<E>(error: E, diagnostics: StaleguardDiagnostics): E {
  if (typeof error !== 'object' || error === null || !Object.isExtensible(error)) return error
  let own: E = error
  // Only undici's own errors are copied: an abort reason (a DOMException) is the caller's, and shared on purpose.
  if (Object.hasOwn(error, kDiagnostics) && /^UND_ERR_/.test(String((error as { code?: unknown }).code))) {
    const source = error as unknown as Error
    own = Object.assign(Object.create(Object.getPrototypeOf(error)) as object, error) as E
    Object.defineProperty(own, 'message', { value: source.message, configurable: true, writable: true })
    Object.defineProperty(own, 'stack', { value: source.stack, configurable: true, writable: true })
    if (source.cause !== undefined)
      Object.defineProperty(own, 'cause', { value: source.cause, configurable: true, writable: true })
  }
  Object.defineProperty(own, kDiagnostics, { value: diagnostics, configurable: true, enumerable: false })
  return own
}

const REASONS: Record<RetryDecision, string> = {
  retried: 'it was retried on a new connection',
  'not-stale': 'the error is not a stale-socket error, so idle sockets are not the cause',
  'fresh-connection': 'it failed on a new connection, which may mean the server received it, so it was not replayed',
  'response-started': 'response bytes had already arrived, so the server processed it and it was not replayed',
  'not-idempotent': 'the method is not safe to send twice; add an Idempotency-Key header to let staleguard replay it',
  'body-not-replayable': 'its body was a stream (or larger than retry.maxReplayBodyBytes) and cannot be sent again',
  aborted: 'the caller aborted it',
  'budget-exhausted': "the origin's retry budget is spent: it has been failing too often for retries to help",
  'retries-exhausted': 'it had already been retried',
  'retry-disabled': 'retries are switched off for this origin',
  'dispatcher-closed': 'the dispatcher was closing, so no new connection was opened for a retry',
  'body-failed': "the request body's own source failed, so the body cannot be sent again",
  'left-to-client':
    'it is safe to send again on a new connection, which node:http leaves to the client: staleguard\'s axios and got integrations do that (see the README, "Every HTTP client")',
}

const kTimeoutMs = Symbol.for('staleguard.timeoutMs')

/** Marks the reason a request scope aborts a call with when its `timeout` option runs out. */
export function markTimeout(reason: Error, timeoutMs: number): Error {
  Object.defineProperty(reason, kTimeoutMs, { value: timeoutMs, configurable: true, enumerable: false })
  return reason
}

/** An abort is the caller's unless the scope's `timeout` ran out: then the explanation says so, with its ms. */
function reasonFor(d: Omit<StaleguardDiagnostics, 'explanation'> & { readonly error?: unknown }): string {
  if (d.retryDecision !== 'aborted' || typeof d.error !== 'object' || d.error === null) return REASONS[d.retryDecision]
  const timeoutMs = (d.error as { [kTimeoutMs]?: number })[kTimeoutMs]
  return timeoutMs === undefined
    ? REASONS.aborted
    : `it timed out after ${Math.round(timeoutMs)} ms (the \`timeout\` option) and was not retried`
}

export function explain(d: Omit<StaleguardDiagnostics, 'explanation'> & { readonly error?: unknown }): string {
  const where = `${d.method} ${d.origin}${d.path}`
  const reason = reasonFor(d)
  if (!d.staleSocketError) return `${where} failed; ${reason}.`
  const socket = d.reused
    ? `a reused keep-alive socket${d.idleMs === null ? '' : ` idle for ${Math.round(d.idleMs)} ms`}`
    : 'a new connection'
  const advice = d.reused
    ? ' A hop on the path closed the idle connection first: set upstreamIdleTimeout (or an upstream preset) so sockets retire before it.'
    : ''
  return `${where} failed on ${socket} after ${d.attempt} attempt${d.attempt === 1 ? '' : 's'}; ${reason}.${advice}`
}
