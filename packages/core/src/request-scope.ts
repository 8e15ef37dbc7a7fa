import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { linkAbort } from './abort-links.js'
import { kDispatchInScope } from './dispatcher.js'
import type { StaleguardLogger } from './events.js'
import { fetchThrough } from './fetch.js'
import { type StaleguardRequest, type StaleguardRequestOptions, requestThrough } from './request.js'
import { StaleguardOptionError } from './options.js'
import { withHeadersIfAbsent } from './request-headers.js'
import type { DispatchScope } from './safe-retry-handler.js'

export interface RequestScopeOptions {
  /** Header that carries the incoming request's id upstream. Default `x-request-id`; `false` sends none. */
  requestIdHeader?: string | false
  /** Incoming headers forwarded upstream when the caller did not set them. Default `traceparent`, `tracestate`. */
  traceHeaders?: readonly string[]
  /** Abort each upstream call after this many ms (it combines with the caller's signal and the disconnect). */
  timeout?: number
}

/** What an adapter knows about the incoming request. */
export interface IncomingRequest {
  /** The id the framework assigned and logs under (Fastify `request.id`): sent upstream as is. */
  readonly requestId?: string | number | undefined
  /** Used when there is no `requestId` and the incoming request carries no request-id header (pino-http `req.id`); else a UUID. */
  readonly defaultRequestId?: string | number | undefined
  readonly headers: IncomingHttpHeaders
  /** The framework's request logger (Fastify `request.log`, pino-http `req.log`, `ctx.log`); nothing is logged without one. */
  readonly logger?: StaleguardLogger | undefined
}

/** Never forwarded, whatever the configuration says: credentials of the incoming request stay here. */
const NEVER_FORWARDED = new Set(['cookie', 'authorization', 'proxy-authorization', 'set-cookie'])
const DEFAULT_TRACE_HEADERS = ['traceparent', 'tracestate']

export interface ResolvedScopeOptions {
  readonly requestIdHeader: string | null
  readonly traceHeaders: readonly string[]
  readonly timeout: number | null
}

export function resolveScopeOptions(options: RequestScopeOptions): ResolvedScopeOptions {
  const { requestIdHeader = 'x-request-id', traceHeaders = DEFAULT_TRACE_HEADERS, timeout } = options
  if (requestIdHeader !== false && (typeof requestIdHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(requestIdHeader))) {
    throw new StaleguardOptionError('requestIdHeader', 'must be a header name or false', requestIdHeader)
  }
  if (!Array.isArray(traceHeaders) || traceHeaders.some((h) => typeof h !== 'string' || NEVER_FORWARDED.has(h.toLowerCase()))) {
    throw new StaleguardOptionError('traceHeaders', 'must be an array of header names, never cookie or authorization', traceHeaders)
  }
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 3_600_000)) {
    throw new StaleguardOptionError('timeout', 'must be an integer from 1 to 3600000 ms', timeout)
  }
  return {
    requestIdHeader: requestIdHeader === false ? null : requestIdHeader.toLowerCase(),
    traceHeaders: traceHeaders.map((h) => h.toLowerCase()),
    timeout: timeout ?? null,
  }
}

/** What handlers see as `request.staleguard` (Fastify), `req.staleguard` (Express), `ctx.staleguard` (Koa). */
export interface StaleguardRequestScope {
  /** The id sent upstream (and in staleguard's logs) for this incoming request. */
  readonly requestId: string
  /** The global fetch, scoped to this request (the same function as `request.fetch`). */
  readonly fetch: typeof fetch
  /** The fast path: `undici.request` semantics and return type, same safety, headers and abort rules. */
  readonly request: StaleguardRequest<Dispatcher>
  /** A dispatcher scoped to this request, for undici's other APIs (`stream`, `pipeline`). */
  readonly dispatcher: { dispatch: Dispatcher['dispatch'] }
}

/**
 * Everything an incoming request's handlers send upstream goes through one scope: it adds the request id and
 * trace headers, names the request in staleguard's logs and diagnostics, and aborts every call still in
 * flight when the client goes away. Built once per incoming request, on first use.
 */
export class RequestScope implements DispatchScope, StaleguardRequestScope {
  readonly requestId: string
  readonly logger: StaleguardLogger | undefined
  readonly #dispatcher: Dispatcher
  readonly #options: ResolvedScopeOptions
  readonly #propagated: readonly (readonly [string, string])[]
  /** Per-call abort controllers still linked to the incoming request. */
  readonly #calls = new Set<AbortController>()
  /** Listener removals and timers to clear when the incoming request ends. */
  readonly #cleanups: (() => void)[] = []
  #ended = false
  #abortReason: unknown = undefined
  #fetch: typeof fetch | null = null
  #request: StaleguardRequest<Dispatcher> | null = null

  constructor(dispatcher: Dispatcher, options: ResolvedScopeOptions, incoming: IncomingRequest) {
    this.#dispatcher = dispatcher
    this.#options = options
    this.requestId = requestIdOf(incoming, options.requestIdHeader)
    this.logger = isLogger(incoming.logger) ? incoming.logger : undefined
    const propagated: [string, string][] = []
    if (options.requestIdHeader !== null) propagated.push([options.requestIdHeader, this.requestId])
    for (const name of options.traceHeaders) {
      const value = incoming.headers[name]
      if (typeof value === 'string') propagated.push([name, value])
    }
    this.#propagated = propagated
  }

  /** The global fetch, scoped to this request. */
  get fetch(): typeof fetch {
    this.#fetch ??= this.#createFetch()
    return this.#fetch
  }

  /** The fast path: `undici.request` semantics and return type, scoped to this request like `fetch`. */
  get request(): StaleguardRequest<Dispatcher> {
    this.#request ??= this.#createRequest()
    return this.#request
  }

  /** A dispatcher for this request (for `undici.request` and friends): same headers, logs and abort rules. */
  readonly dispatcher = {
    dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
      const scoped = this.#propagated.length === 0 ? options : { ...options, headers: withHeadersIfAbsent(options.headers as never, this.#propagated) as Dispatcher.DispatchOptions['headers'] }
      const target = this.#dispatcher as Dispatcher & { [kDispatchInScope]?: (o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler, s: DispatchScope) => boolean }
      return target[kDispatchInScope] ? target[kDispatchInScope](scoped, handler, this) : target.dispatch(scoped, handler)
    },
  }

  /** A signal for one upstream call: aborted by the caller's signal, the per-call timeout or the disconnect. */
  signalFor(callerSignal: AbortSignal | undefined | null): AbortSignal | undefined {
    const timeout = this.#options.timeout
    if (this.#ended) {
      // After the response went out there is no disconnect to follow: the caller's signal and timeout only.
      if (timeout === null) return callerSignal ?? undefined
      return callerSignal ? AbortSignal.any([callerSignal, AbortSignal.timeout(timeout)]) : AbortSignal.timeout(timeout)
    }
    const controller = new AbortController()
    if (this.#abortReason !== undefined) {
      controller.abort(this.#abortReason)
      return controller.signal
    }
    this.#calls.add(controller)
    if (callerSignal) this.#cleanups.push(linkAbort(callerSignal, controller))
    if (timeout !== null) {
      const timer = setTimeout(() => controller.abort(new DOMException(`staleguard: upstream call exceeded timeout of ${timeout} ms`, 'TimeoutError')), timeout)
      timer.unref()
      this.#cleanups.push(() => clearTimeout(timer))
    }
    return controller.signal
  }

  /** The client of the incoming request went away: abort everything still in flight (never retried). */
  abort(reason: unknown = new DOMException('staleguard: the incoming request was closed by its client', 'AbortError')): void {
    if (this.#abortReason !== undefined || this.#ended) return
    this.#abortReason = reason
    for (const controller of this.#calls) controller.abort(reason)
    this.end()
  }

  /** The incoming request is over: drop every listener and timer this scope added. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    for (const cleanup of this.#cleanups.splice(0)) cleanup()
    this.#calls.clear()
  }

  #createRequest(): StaleguardRequest<Dispatcher> {
    const scopedRequest = requestThrough<Dispatcher>(this.dispatcher)
    const bound = <TOpaque = null>(url: string | URL, options?: StaleguardRequestOptions<TOpaque>) => {
      const signal = this.signalFor(options?.signal as AbortSignal | undefined)
      return scopedRequest<TOpaque>(url, signal === undefined ? options : { ...options, signal })
    }
    return Object.assign(bound, { dispatcher: scopedRequest.dispatcher })
  }

  #createFetch(): typeof fetch {
    const scopedFetch = fetchThrough(this.dispatcher)
    return (input, init) => {
      const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined)
      const signal = this.signalFor(callerSignal)
      return scopedFetch(input, signal === undefined ? init : { ...init, signal })
    }
  }
}

const MAX_REQUEST_ID_LENGTH = 200

function requestIdOf(incoming: IncomingRequest, header: string | null): string {
  const assigned = idText(incoming.requestId)
  if (assigned !== undefined) return assigned
  const received = incoming.headers[header ?? 'x-request-id']
  if (typeof received === 'string' && received.length > 0 && received.length <= MAX_REQUEST_ID_LENGTH) return received
  return idText(incoming.defaultRequestId) ?? randomUUID()
}

function idText(id: unknown): string | undefined {
  if ((typeof id === 'string' && id.length > 0) || typeof id === 'number') return String(id).slice(0, MAX_REQUEST_ID_LENGTH)
  return undefined
}

function isLogger(value: unknown): value is StaleguardLogger {
  const candidate = value as Partial<StaleguardLogger> | undefined
  return typeof candidate?.info === 'function' && typeof candidate.warn === 'function'
}
