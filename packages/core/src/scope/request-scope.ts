import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { linkAbort } from './abort-links.js'
import { type ScopedDispatchOptions, isScopeAware, kCallScope } from '../dispatch/staleguard-dispatcher.js'
import { type DispatcherForBody, bodyMarkingDispatchers, fetchVia } from '../api/create-fetch.js'
import { type BodySource, type BodySourceOptions, kBodySource } from '../retry/request-safety.js'
import type { StaleguardLogger } from '../observe/events.js'
import { markTimeout } from '../observe/diagnostics.js'
import { holdForwardedTraceHeaders, releaseForwardedTraceHeaders } from '../observe/injected-trace-context.js'
import { toCallbackHandler } from '../dispatch/handler-bridge.js'
import { ScopedCall } from './scoped-call.js'
import { type StaleguardRequest, type StaleguardRequestOptions, requestThrough } from '../api/create-request.js'
import { requestIdOf } from './request-id.js'
import type { ResolvedScopeOptions } from './scope-options.js'
import { type DispatchHeaders, flatHeadersIfAbsent, withHeadersIfAbsent } from '../http/request-headers.js'
import type { AbortableCall, DispatchScope } from '../dispatch/call-scope.js'
import { copyOfOptions } from '../http/options-copy.js'

/**
 * What an adapter knows about the incoming request. Read when needed: `logger` only when there is something
 * to log, `requestId` only when the incoming request carries no id of its own (adapters may back them with
 * getters).
 */
export interface IncomingRequest {
  /**
   * The framework's id for the request (Fastify `request.id`, pino-http `req.id`): sent upstream when the
   * incoming request carries no request-id header (the configured `requestIdHeader`); without either, a UUID.
   */
  readonly requestId?: string | number | undefined
  /** The incoming request's headers: its request id and the `traceHeaders` to forward are read from them. */
  readonly headers: IncomingHttpHeaders
  /** The framework's request logger (Fastify `request.log`, pino-http `req.log`, `ctx.log`); nothing is logged without one. */
  readonly logger?: StaleguardLogger | undefined
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
  /** The id sent upstream: the incoming request's own header, else the framework's id, else a new UUID. */
  readonly requestId: string
  /**
   * The incoming request, until its response is over. Express and Koa keep their scopes in a WeakMap keyed
   * by the request object, and a value that leads back to its key keeps the key alive through V8's young-
   * generation collections: every finished request's whole object graph would be copied to the old
   * generation. So the scope lets go of it when the response closes, keeping only the logger.
   */
  #incoming: IncomingRequest | null
  /** The logger, once looked up (null: none); until then undefined. */
  #logger: StaleguardLogger | null | undefined = undefined
  readonly #dispatcher: Dispatcher
  readonly #options: ResolvedScopeOptions
  /** The request id (when sent) first, then the trace headers: those from `#traceFrom` on. */
  readonly #propagated: readonly (readonly [string, string])[]
  readonly #traceFrom: 0 | 1
  /**
   * While calls are in flight, the forwarded trace headers are marked as this scope's, so that they yield to
   * a tracer's own (observe/injected-trace-context.ts): only when one listens for undici's requests.
   */
  #holdingTrace = false
  /**
   * Upstream calls in flight, aborted here, at the dispatcher, when the client goes away. Most requests
   * make one call at a time: it takes the slot, and a Set exists only for calls made side by side.
   */
  #call: AbortableCall | null = null
  #moreCalls: Set<AbortableCall> | null = null
  /** Per-call timeout timers, only when the `timeout` option is set. */
  #timers: Map<AbortableCall, NodeJS.Timeout> | null = null
  /** Listener removals to run when the incoming request ends, only once a caller passed its own signal. */
  #cleanups: (() => void)[] | null = null
  #ended = false
  #abortReason: Error | undefined = undefined
  #fetch: typeof fetch | null = null
  #request: StaleguardRequest<Dispatcher> | null = null

  /**
   * A scope over `dispatcher` for one incoming request. Adapters get theirs from
   * `AppInstallation.openScope`, which also wires it to the response; `options` are the checked scope options.
   */
  constructor(dispatcher: Dispatcher, options: ResolvedScopeOptions, incoming: IncomingRequest) {
    this.#dispatcher = dispatcher
    this.#options = options
    this.#incoming = incoming
    // Read once: an adapter's `headers` is a getter over a framework object whose reads miss V8's caches.
    const headers = incoming.headers
    this.requestId = requestIdOf(headers, options.requestIdHeader, incoming)
    const propagated: [string, string][] = []
    if (options.requestIdHeader !== null) propagated.push([options.requestIdHeader, this.requestId])
    this.#traceFrom = propagated.length as 0 | 1
    for (const name of options.traceHeaders) {
      const value = headers[name]
      if (typeof value === 'string') propagated.push([name, value])
    }
    this.#propagated = propagated
  }

  /** The framework's request logger, looked up on first use: most requests never log anything. */
  get logger(): StaleguardLogger | undefined {
    if (this.#logger === undefined) {
      let logger: unknown
      try {
        logger = this.#incoming?.logger
      } catch {
        // A framework's getter that throws means no logger; it must not throw out of a response's close listener.
      }
      this.#logger = isLogger(logger) ? logger : null
    }
    return this.#logger ?? undefined
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
  get dispatcher(): { dispatch: Dispatcher['dispatch'] } {
    return this
  }

  /** The scope is its own dispatcher, so opening one allocates no extra object for it. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#dispatch(options, handler, undefined)
  }

  /** `bodySource`: what the scoped fetch knows of the call's body, added in the one copy the options get. */
  #dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    bodySource: BodySource | undefined,
  ): boolean {
    const target = this.#dispatcher
    // A staleguard dispatcher (under any interceptors composed on it) finds this scope in the options and
    // enters its calls into it itself, and takes the headers as a flat list; any other dispatcher gets a thin
    // wrapper, and the headers in the shape the caller used.
    if (isScopeAware(target)) {
      const marked: ScopedDispatchOptions & BodySourceOptions = copyOfOptions(options)
      marked[kCallScope] = this
      if (bodySource !== undefined) marked[kBodySource] = bodySource
      if (this.#propagated.length > 0) {
        marked.headers = flatHeadersIfAbsent(
          options.headers as DispatchHeaders,
          this.#propagated,
        ) as Dispatcher.DispatchOptions['headers']
      }
      return target.dispatch(marked, handler)
    }
    return target.dispatch(
      this.#propagate(options),
      new ScopedCall(toCallbackHandler(handler), this) as Dispatcher.DispatchHandler,
    )
  }

  /** The options with this request's id and trace headers added where the caller did not set them. */
  #propagate(options: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
    if (this.#propagated.length === 0) return options
    const propagated = copyOfOptions(options)
    propagated.headers = withHeadersIfAbsent(
      options.headers as DispatchHeaders,
      this.#propagated,
    ) as Dispatcher.DispatchOptions['headers']
    return propagated
  }

  /**
   * Disconnects and timeouts abort calls at the dispatcher, not through an AbortSignal: fetch makes a
   * signal it is handed expensive (its Request follows it with a WeakRef and a FinalizationRegistry entry),
   * while this is a field (or, for calls side by side, a Set entry) per call.
   */
  enter(call: AbortableCall): void {
    if (this.#abortReason !== undefined) {
      call.abort(this.#abortReason)
      return
    }
    if (!this.#holdingTrace) this.#holdingTrace = holdForwardedTraceHeaders(this.#propagated, this.#traceFrom)
    if (this.#call === null) this.#call = call
    else (this.#moreCalls ??= new Set()).add(call)
    const timeout = this.#options.timeout
    if (timeout !== null) {
      const timer = setTimeout(() => call.abort(timeoutReason(timeout)), timeout)
      timer.unref()
      ;(this.#timers ??= new Map()).set(call, timer)
    }
  }

  /** A call is over (answered, failed or aborted): the scope no longer aborts it, and its `timeout` timer is cleared. */
  leave(call: AbortableCall): void {
    if (this.#call === call) this.#call = null
    else this.#moreCalls?.delete(call)
    const timer = this.#timers?.get(call)
    if (timer !== undefined) {
      clearTimeout(timer)
      this.#timers!.delete(call)
    }
    if (this.#holdingTrace && this.#idle()) {
      this.#holdingTrace = false
      releaseForwardedTraceHeaders(this.#propagated, this.#traceFrom)
    }
    if (this.#ended && this.#idle()) this.#unlinkCallerSignals()
  }

  #idle(): boolean {
    return this.#call === null && (this.#moreCalls === null || this.#moreCalls.size === 0)
  }

  /** The client of the incoming request went away: abort everything still in flight (never retried). */
  abort(
    reason: Error = new DOMException('staleguard: the incoming request was closed by its client', 'AbortError'),
  ): void {
    if (this.#abortReason !== undefined || this.#ended) return
    this.#abortReason = reason
    const calls = [...(this.#moreCalls ?? [])]
    if (this.#call !== null) calls.push(this.#call)
    for (const call of calls) call.abort(reason)
    this.end()
  }

  /**
   * The incoming request is over. The listeners this scope put on callers' signals go once its last call
   * has finished too: a call may outlive the response (work after reply) and must stay abortable.
   */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    // Calls made after the response (work after reply) still log under this request: look the logger up now.
    void this.logger
    this.#incoming = null
    if (this.#idle()) this.#unlinkCallerSignals()
  }

  #unlinkCallerSignals(): void {
    const cleanups = this.#cleanups
    this.#cleanups = null
    if (cleanups) for (const cleanup of cleanups) cleanup()
  }

  /**
   * A caller's own signal is not handed on as is: fetch keeps its listener on it until the request is
   * collected, and every call in flight adds one, so a long-lived signal shared by many calls would pile
   * listeners up (MaxListenersExceededWarning). Each call gets its own signal instead, linked to the
   * caller's by a single listener per signal, removed when this request ends.
   */
  #signalFor(callerSignal: AbortSignal): AbortSignal {
    // A call started after the response went out and its calls finished: the caller's signal as is.
    if (this.#ended && this.#idle()) return callerSignal
    const controller = new AbortController()
    ;(this.#cleanups ??= []).push(linkAbort(callerSignal, controller))
    return controller.signal
  }

  #createRequest(): StaleguardRequest<Dispatcher> {
    const scopedRequest = requestThrough<Dispatcher>(this.dispatcher)
    const bound = <TOpaque = null>(url: string | URL, options?: StaleguardRequestOptions<TOpaque>) => {
      const callerSignal = options?.signal as AbortSignal | undefined
      if (!callerSignal) return scopedRequest<TOpaque>(url, options)
      const signalled = copyOfOptions(options!)
      signalled.signal = this.#signalFor(callerSignal)
      return scopedRequest<TOpaque>(url, signalled)
    }
    return Object.assign(bound, { dispatcher: scopedRequest.dispatcher })
  }

  /** One closure per scope, built on first use: `request.fetch` is read on most requests, so it stays lean. */
  #createFetch(): typeof fetch {
    const plainInit = { dispatcher: this as object } as RequestInit
    let dispatcherFor: DispatcherForBody | null = null
    return (input, init) => {
      // An explicit dispatcher leaves this scope; otherwise only a caller's own signal needs handling.
      const callerSignal =
        init?.dispatcher === undefined
          ? (init?.signal ?? (input instanceof Request ? input.signal : undefined))
          : undefined
      const callInit = callerSignal ? { ...init, signal: this.#signalFor(callerSignal) } : init
      // Most calls have no init, so no body to choose a dispatcher by: the choice is made on the first that does.
      if (callInit === undefined) return globalThis.fetch(input, plainInit)
      dispatcherFor ??= bodyMarkingDispatchers(this, this.#dispatcher, (options, handler, source) =>
        this.#dispatch(options, handler, source),
      )
      return fetchVia(dispatcherFor, plainInit, input, callInit)
    }
  }
}

/** A TimeoutError, as AbortSignal.timeout gives, that says which option ran out (and diagnostics can tell). */
function timeoutReason(timeoutMs: number): Error {
  return markTimeout(
    new DOMException(
      `staleguard: the upstream call timed out after ${timeoutMs} ms (the \`timeout\` option)`,
      'TimeoutError',
    ),
    timeoutMs,
  )
}

function isLogger(value: unknown): value is StaleguardLogger {
  const candidate = value as Partial<StaleguardLogger> | undefined
  return typeof candidate?.info === 'function' && typeof candidate.warn === 'function'
}
