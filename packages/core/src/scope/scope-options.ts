import { StaleguardOptionError } from '../config/options.js'

/** What a framework adapter's request scope sends upstream with each call, and how long a call may take. */
export interface RequestScopeOptions {
  /**
   * Header that carries the incoming request's id upstream (read from the incoming request under the same
   * name, else the framework's id, else a new UUID): a header name. Default `x-request-id`; `false` sends none.
   */
  requestIdHeader?: string | false
  /**
   * Incoming headers forwarded upstream when the caller did not set them. Default `traceparent`, `tracestate`.
   * A tracer that injects its own (`@opentelemetry/instrumentation-undici`: its client span's `traceparent`)
   * takes precedence: the forwarded copy of that header, and with a traceparent its tracestate, is not sent.
   * An array of header names (`[]` forwards none); `cookie`, `authorization`, `proxy-authorization` and
   * `set-cookie` are refused: the incoming request's credentials are never forwarded.
   */
  traceHeaders?: readonly string[]
  /**
   * Abort each upstream call after this many ms, an integer from 1 to 3 600 000 (it combines with the caller's
   * signal and the disconnect; the call rejects with a `TimeoutError` that names this option). Default: none.
   */
  timeout?: number
}

/** Never forwarded, whatever the configuration says: credentials of the incoming request stay here. */
const NEVER_FORWARDED = new Set(['cookie', 'authorization', 'proxy-authorization', 'set-cookie'])
const DEFAULT_TRACE_HEADERS = ['traceparent', 'tracestate']
/** RFC 9110 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** {@link RequestScopeOptions} checked, defaults filled in and header names lower-cased. */
export interface ResolvedScopeOptions {
  /** The request-id header, or null when none is sent. */
  readonly requestIdHeader: string | null
  /** The incoming headers to forward. */
  readonly traceHeaders: readonly string[]
  /** Each call's timeout in ms, or null for none. */
  readonly timeout: number | null
}

export function resolveScopeOptions(options: RequestScopeOptions): ResolvedScopeOptions {
  const { requestIdHeader = 'x-request-id', traceHeaders = DEFAULT_TRACE_HEADERS, timeout } = options
  if (requestIdHeader !== false && (typeof requestIdHeader !== 'string' || !HEADER_NAME.test(requestIdHeader))) {
    throw new StaleguardOptionError(
      'requestIdHeader',
      'must be a header name such as x-request-id, or false to send no request id',
      requestIdHeader,
    )
  }
  if (!Array.isArray(traceHeaders) || traceHeaders.some((h) => typeof h !== 'string' || !HEADER_NAME.test(h))) {
    throw new StaleguardOptionError(
      'traceHeaders',
      'must be an array of header names such as traceparent (an empty array forwards none)',
      traceHeaders,
    )
  }
  const credential = traceHeaders.find((h) => NEVER_FORWARDED.has(h.toLowerCase()))
  if (credential !== undefined) {
    throw new StaleguardOptionError(
      'traceHeaders',
      `must not name ${[...NEVER_FORWARDED].join(', ')}: the incoming request's credentials are never forwarded`,
      credential,
    )
  }
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 3_600_000)
  ) {
    throw new StaleguardOptionError('timeout', 'must be an integer from 1 to 3600000 ms per upstream call', timeout)
  }
  return {
    requestIdHeader: requestIdHeader === false ? null : requestIdHeader.toLowerCase(),
    traceHeaders: traceHeaders.map((h) => h.toLowerCase()),
    timeout: timeout ?? null,
  }
}
