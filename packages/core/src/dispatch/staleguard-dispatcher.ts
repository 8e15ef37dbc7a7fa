import type { Agent as UndiciAgent, Dispatcher } from 'undici'
import { Agent, UndiciDispatcher } from '../http/undici.js'
import { type StaleguardCounters, addCounters, emptyCounters } from '../observe/counters.js'
import type { OriginStats, StaleguardStats } from '../observe/stats.js'
import { toCallbackHandler } from './handler-bridge.js'
import type { StaleguardOptions } from '../config/options.js'
import { normalizeOriginKey, resolveOriginOptions, validateOptions } from '../config/resolve-options.js'
import { globalDispatcherInPlace } from '../http/global-slots.js'
import { errors } from '../http/undici.js'
import { formDataAsBlob, isFormData } from '../http/form-data.js'
import { copyOfOptions } from '../http/options-copy.js'
import { type InheritedBase, NOTHING_INHERITED, inheritedNames } from '../inherit/inherited-base.js'
import { kInheritedBase, readDispatcherInPlace } from '../inherit/dispatcher-in-place.js'
import { optionsOverBase } from '../inherit/inherited-options.js'
import { reportInheritance } from '../observe/events.js'
import { OriginPaths } from './origin-paths.js'
import { OriginState } from './origin-state.js'
import type { DispatchScope } from './call-scope.js'
import { type RetryConnections, SafeRetryHandler } from './safe-retry-handler.js'
import type { PairingClient } from './pairing-client.js'
import { type OriginPool, createLoneClient, createOriginPool } from './origin-pool.js'
import { type SocketNeed, chooseClient } from './client-choice.js'
import type { HeldRequest } from './session-sharing.js'
import { collectBody, collectsBodyFirst } from './session-bodies.js'

/**
 * How a request scope reaches the staleguard dispatcher under any interceptors composed on it: its calls'
 * dispatch options carry the scope under this key, which interceptors copy with the rest (`{ ...opts }`).
 * Registered symbols, so copies of this package (ESM and CommonJS builds) understand each other.
 */
export const kCallScope = Symbol.for('staleguard.callScope.v1')
const kTakesCallScope = Symbol.for('staleguard.takesCallScope.v1')
/** The dispatcher itself behind `compose()`'s Proxy, whose methods run with the Proxy as `this`. */
const kTarget = Symbol('staleguard.target')
/** How the node:http agents of one installation reach the per-origin state of its dispatcher. */
export const kOriginStateFor = Symbol('staleguard.originStateFor')

/** Dispatch options marked with the request scope they are made for. */
export type ScopedDispatchOptions = Dispatcher.DispatchOptions & { [kCallScope]?: DispatchScope }
/** Origins whose sockets are all gone are forgotten beyond this many, their counters kept in the totals. */
const MAX_IDLE_ORIGINS = 1_000

/**
 * An undici Dispatcher: per-origin pools that retire idle sockets before the upstream forgets them, each
 * request wrapped by one safe-retry handler. Use it as `fetch(url, { dispatcher })`, with
 * `undici.request`, or as the global dispatcher.
 */
export class StaleguardDispatcher extends UndiciDispatcher {
  readonly #options: StaleguardOptions
  /** What it took over from the dispatcher in place when it was made (`NOTHING_INHERITED` if nothing). */
  readonly #base: InheritedBase
  readonly #paths: OriginPaths
  /** One pool per origin, kept for as long as the origin is (see `createOriginPool`). */
  readonly #pools = new Map<OriginState, OriginPool>()
  /** Only to let undici reject a request without a usable origin, in its own words. */
  #invalidOrigins: UndiciAgent | null = null
  readonly #origins = new Map<string, OriginState>()
  readonly #originKeys = new Map<string, string>()
  readonly #newConnectionClients = new Set<PairingClient>()
  readonly #forgotten: StaleguardCounters = emptyCounters()
  #closed = false
  /** Handed to every request's handler: how it retries, without a way back into the rest of the dispatcher. */
  readonly #retryConnections: RetryConnections = {
    dispatchOnNewConnection: (origin, options, handler, failedOn) =>
      this.#dispatchOnNewConnection(origin, options, handler, failedOn),
    isClosing: () => this.#closed,
  }
  #lastOriginText: string | null = null
  #lastOrigin: OriginState | null = null
  /** @internal */
  readonly [kTarget]: StaleguardDispatcher = this

  /**
   * Checks every option up front: one outside its accepted range throws a {@link StaleguardOptionError} here,
   * naming it, not on the first request to an origin. Options and their ranges: {@link StaleguardOptions}.
   *
   * It takes over the settings of the global dispatcher in place (an undici Agent's connect options, limits
   * and timeouts, an EnvHttpProxyAgent's proxies), under the options given here, which win; one whose
   * settings cannot be read is refused with a StaleguardOptionError, unless `inherit: false`.
   */
  constructor(options: StaleguardOptions = {}) {
    super()
    validateOptions(options)
    const inPlace =
      options.inherit === false ? null : readDispatcherInPlace(globalDispatcherInPlace(), options.proxy !== undefined)
    const base = inPlace === null || inPlace.kind === 'nothing' ? NOTHING_INHERITED : inPlace.base
    const { options: merged, overridden } = optionsOverBase(options, base)
    this.#options = merged
    this.#base = base
    this.#paths = new OriginPaths(merged.proxy, base, options.connect !== undefined)
    if (base !== NOTHING_INHERITED)
      reportInheritance({ source: base.source, inherited: inheritedNames(base), overridden })
  }

  /** @internal What a staleguard dispatcher made after this one takes over: what this one runs with. */
  get [kInheritedBase](): InheritedBase {
    const self = this[kTarget]
    const { connections, headersTimeout, bodyTimeout, keepAliveTimeout, keepAliveMaxTimeout, allowH2 } = self.#options
    const { maxRequestsPerConnection, maxConnectionAge, connect } = self.#options
    return {
      source: 'a staleguard dispatcher',
      options: {
        connections,
        headersTimeout,
        bodyTimeout,
        keepAliveTimeout,
        keepAliveMaxTimeout,
        allowH2,
        maxRequestsPerConnection,
        maxConnectionAge,
        connect,
      },
      clientOptions: self.#base.clientOptions,
      connector: self.#options.connect === undefined ? self.#base.connector : null,
      proxy: self.#paths.plan,
      maxOrigins: self.#base.maxOrigins,
    }
  }

  /** A request scope's calls come marked with it (`kCallScope`), so logs and diagnostics name the request. */
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const scope = (options as ScopedDispatchOptions)[kCallScope]
    const origin = this.#originFor(options.origin)
    // Without a usable origin let undici produce its own validation error through the handler.
    if (origin === undefined) return (this.#invalidOrigins ??= new Agent()).dispatch(options, handler)
    if (origin === null) return failWith(handler, new errors.MaxOriginsReachedError())
    const originPool = this.#poolOf(origin)
    if (originPool.sharing?.active === true && collectsBodyFirst(options)) {
      collectBody(options.body as AsyncIterable<unknown>).then(
        (bytes) => this.dispatch(withBody(options, bytes), handler),
        (error: Error) => failWith(handler, error),
      )
      return true
    }
    origin.counters.requests++
    origin.inFlight++
    const now = performance.now()
    origin.budget?.recordRequest(now)
    const body = options.body
    // A FormData from any copy of undici, as the one Blob every copy writes (see `formDataAsBlob`).
    if (typeof body === 'object' && body !== null && isFormData(body)) options = withBody(options, formDataAsBlob(body))
    let written = origin.path.forward === null ? options : origin.path.forward(options)
    // undici 7 writes a request it does not call idempotent on a session only when no other stream runs on
    // it, so each POST would open a session of its own (undici 8 dropped that rule). Which requests may go
    // again is staleguard's to decide (`SafeRetryHandler`), not this flag's.
    if (origin.sharesSessions && written.idempotent === undefined && !IDEMPOTENT_BY_UNDICI.has(written.method))
      written = withIdempotent(written)
    const safe = new SafeRetryHandler(this.#retryConnections, origin, written, toCallbackHandler(handler), scope)
    if (originPool.sharing?.active === true) {
      this.#routeShared(origin, originPool, { options: safe.firstAttemptOptions, handler: safe, need: safe.socketNeed })
      return true
    }
    if (this.#dispatchOnChosenClient(origin, originPool, safe.firstAttemptOptions, safe, safe.socketNeed, now))
      return true
    return originPool.pool.dispatch(safe.firstAttemptOptions, safe as Dispatcher.DispatchHandler)
  }

  /**
   * Retries go on a new connection: the pool could hand back another socket that has been idle as long as the
   * one that just died. The Client whose socket died opens it, when it is still in its pool: the connection
   * takes the dead one's place, so no more are open than a plain Agent would have (a `connections` cap
   * holds). Otherwise a Client of its own opens it, for that one request.
   */
  #dispatchOnNewConnection(
    origin: OriginState,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    failedOn: PairingClient | null,
  ): void {
    const originPool = this.#pools.get(origin)
    // On shared sessions a retry takes a session that is answering now, or waits for the one being opened.
    if (originPool?.sharing?.active === true && !this.#closed) {
      this.#routeShared(origin, originPool, { options, handler, need: 'retry' })
      return
    }
    if (failedOn !== null && originPool !== undefined && reconnectsFor(failedOn, originPool)) {
      originPool.dispatchOn(failedOn, options, handler)
      return
    }
    const client = createLoneClient(origin)
    this.#newConnectionClients.add(client)
    client.dispatch(options, handler)
    // Close once that one request is done; the socket is not kept.
    closeQuietly(client).finally(() => this.#newConnectionClients.delete(client))
  }

  /**
   * A request to an origin whose connections may be HTTP/2 sessions (see `SessionSharing`): the socket choice
   * for a suspect first, then a session with a stream free, then the connection being opened, then the pool.
   */
  #routeShared(origin: OriginState, originPool: OriginPool, request: HeldRequest): void {
    const sharing = originPool.sharing!
    const { options, handler, need } = request
    const { clients } = originPool
    const now = performance.now()
    if (need !== 'retry' && this.#dispatchOnChosenClient(origin, originPool, options, handler, need, now)) return
    const client = sharing.clientWithRoom(
      clients,
      need === 'any' ? () => true : (c) => c.socket === null || !origin.suspects(c.socket, now),
    )
    if (client !== null) {
      originPool.dispatchOn(client, options, handler)
      return
    }
    if (!this.#closed && sharing.opening(clients)) {
      sharing.hold(request)
      return
    }
    originPool.pool.dispatch(options, handler)
  }

  /**
   * A request that needs a socket proven safe (or that scouts a suspect one, see `chooseClient`) goes on the
   * Client chosen for it; false when the pool's own pick will do.
   */
  #dispatchOnChosenClient(
    origin: OriginState,
    originPool: OriginPool,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    need: SocketNeed,
    now: number,
  ): boolean {
    if (need === 'any' || this.#closed) return false
    const choice = chooseClient(origin, originPool.clients, need, now)
    if (choice === null) return false
    if (choice.newConnection) origin.noteUnreplayableOnNewConnection(options.method, options.path)
    originPool.dispatchOn(choice.client, options, handler)
    return true
  }

  /**
   * @internal The state of an origin, the one its fetch requests use too, for the node:http agents sharing it:
   * one memory per origin, whichever client found its limits. Null past an inherited `maxOrigins`.
   */
  [kOriginStateFor](origin: string): OriginState | null {
    return this[kTarget].#originFor(origin) ?? null
  }

  /** @internal */
  get [kTakesCallScope](): true {
    return true
  }

  /** The same dispatcher, its `close`, `destroy` and `stats` intact, with the interceptors in front of it. */
  override compose(interceptors: Dispatcher.DispatcherComposeInterceptor[]): StaleguardDispatcher
  /** The same, with the interceptors passed one by one. */
  override compose(...interceptors: Dispatcher.DispatcherComposeInterceptor[]): StaleguardDispatcher
  override compose(...args: unknown[]): StaleguardDispatcher {
    return (super.compose as (...a: unknown[]) => unknown)(...args) as StaleguardDispatcher
  }

  /** Counters, in total and per origin. */
  stats(): StaleguardStats {
    return this[kTarget].#stats()
  }

  #stats(): StaleguardStats {
    const total = emptyCounters()
    addCounters(total, this.#forgotten)
    const origins: Record<string, OriginStats> = {}
    let openSockets = 0
    for (const state of this.#origins.values()) {
      addCounters(total, state.counters)
      openSockets += state.sockets.size
      let activeSockets = 0
      const addresses: Record<string, number> = {}
      for (const record of state.sockets) {
        if (record.busy) activeSockets++
        const address = record.socket.remoteAddress
        if (address !== undefined) addresses[address] = (addresses[address] ?? 0) + 1
      }
      origins[state.key] = {
        origin: state.key,
        ...state.counters,
        openSockets: state.sockets.size,
        activeSockets,
        requestsPerSocket: requestsPerSocket(state.counters),
        proxy: state.path.proxy,
        idleLimitMs: state.idleLimitMs,
        learnedIdleLimitMs: state.learnedIdleLimitMs,
        learnedRequestLimit: state.learnedRequestLimit,
        provenIdleMs: state.provenIdleMs,
        addresses,
        resolvedAddresses: state.addressRefresh?.addresses ?? null,
      }
    }
    return { ...total, openSockets, origins }
  }

  /**
   * Closes every pool and retry connection this dispatcher opened, each once its requests in flight have
   * finished; resolves when all are closed. A stale failure is no longer retried from then on.
   */
  override close(): Promise<void>
  /** `close()`, calling `callback` when done instead of returning a promise. */
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    const self = this[kTarget]
    self.#closed = true
    self.#releaseHeld()
    const done = Promise.all([...self.#dispatchers()].map(closeQuietly)).then(() => {})
    if (callback) {
      done.then(callback, callback)
      return
    }
    return done
  }

  /** Closes every connection at once: requests in flight fail (with undici's `ClientDestroyedError`). */
  override destroy(): Promise<void>
  /** Closes every connection at once; requests in flight fail with `error` (undici's own error when null). */
  override destroy(error: Error | null): Promise<void>
  /** `destroy()`, calling `callback` when done instead of returning a promise. */
  override destroy(callback: () => void): void
  /** `destroy(error)`, calling `callback` when done. */
  override destroy(error: Error | null, callback: () => void): void
  override destroy(errorOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const error = typeof errorOrCallback === 'function' ? null : (errorOrCallback ?? null)
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback
    const self = this[kTarget]
    self.#closed = true
    self.#releaseHeld()
    const done = Promise.all([...self.#dispatchers()].map((d) => d.destroy(error))).then(() => {})
    if (cb) {
      done.then(cb, cb)
      return
    }
    return done
  }

  /** True once `close()` or `destroy()` was called, on this dispatcher or on one composed from it. */
  get closed(): boolean {
    return this[kTarget].#closed
  }

  /** Requests waiting for a connection go to their pools, which finish (or fail) them as they close. */
  #releaseHeld(): void {
    for (const { sharing } of this.#pools.values()) sharing?.release()
  }

  /** Every undici dispatcher this one owns: its pools, the connections opened for retries, the fallback. */
  *#dispatchers(): Iterable<Dispatcher> {
    for (const { pool } of this.#pools.values()) yield pool
    yield* this.#newConnectionClients
    yield* this.#paths.dispatchers()
    if (this.#invalidOrigins !== null) yield this.#invalidOrigins
  }

  #poolOf(state: OriginState): OriginPool {
    let known = this.#pools.get(state)
    if (known === undefined) {
      // Pass the pool's events on, as undici's Agent does, so code that watches a dispatcher keeps working.
      known = createOriginPool(state, (event, origin, targets, error) =>
        (this as NodeJS.EventEmitter).emit(event, origin, [this, ...targets], error),
      )
      this.#pools.set(state, known)
      const sharing = known.sharing
      if (sharing !== null) {
        const originPool = known
        sharing.routeWith((request, on) => {
          if (on === null) this.#routeShared(state, originPool, request)
          else originPool.dispatchOn(on, request.options, request.handler)
        })
        const pool = known.pool as NodeJS.EventEmitter
        pool.on('connect', (_origin: URL, targets: readonly Dispatcher[]) =>
          sharing.connected(targets[targets.length - 1] as PairingClient),
        )
        pool.on('connectionError', () => sharing.release())
      }
    }
    return known
  }

  #originFor(raw: unknown): OriginState | undefined | null {
    // Most apps call one or two upstreams: the last origin string seen answers most lookups.
    if (raw === this.#lastOriginText && this.#lastOrigin !== null) return this.#lastOrigin
    const state = this.#lookUpOrigin(raw)
    if (typeof raw === 'string' && state != null) {
      this.#lastOriginText = raw
      this.#lastOrigin = state
    }
    return state
  }

  /** undefined: not a usable origin; null: one origin more than the inherited `maxOrigins` allows. */
  #lookUpOrigin(raw: unknown): OriginState | undefined | null {
    if (typeof raw !== 'string' && !(raw instanceof URL)) return undefined
    const text = typeof raw === 'string' ? raw : raw.origin
    let key = this.#originKeys.get(text)
    if (key === undefined) {
      try {
        key = normalizeOriginKey(text)
      } catch {
        return undefined
      }
      if (this.#originKeys.size > MAX_IDLE_ORIGINS * 4) this.#originKeys.clear()
      this.#originKeys.set(text, key)
    }
    let state = this.#origins.get(key)
    if (state === undefined) {
      const maxOrigins = this.#base.maxOrigins
      if (maxOrigins !== null && this.#origins.size >= maxOrigins) return null
      const options = resolveOriginOptions(this.#options, key)
      // ALPN is the connector's to offer: undici's Client hands `allowH2` only to a connector it builds itself.
      const path = this.#paths.pathTo(key, { allowH2: options.allowH2, ...options.connect })
      state = new OriginState(key, options, path, this.#base.clientOptions)
      this.#origins.set(key, state)
      this.#forgetIdleOrigins()
    }
    return state
  }

  #forgetIdleOrigins(): void {
    if (this.#origins.size <= MAX_IDLE_ORIGINS) return
    for (const [key, state] of this.#origins) {
      if (this.#origins.size <= MAX_IDLE_ORIGINS) return
      if (state.sockets.size > 0 || state.inFlight > 0 || state === this.#lastOrigin) continue
      addCounters(this.#forgotten, state.counters)
      this.#origins.delete(key)
      void this.#pools.get(state)?.pool.close()
      this.#pools.delete(state)
    }
  }
}

/**
 * Closes a dispatcher this one owns, unless undici already destroyed it (an HTTP/2 Client can be, when its
 * session fails): closing it again would only reject with `ClientDestroyedError`.
 */
function closeQuietly(dispatcher: Dispatcher): Promise<void> {
  if ((dispatcher as { destroyed?: boolean }).destroyed === true) return Promise.resolve()
  return dispatcher.close().catch((error: { code?: unknown }) => {
    if (error?.code !== 'UND_ERR_DESTROYED') throw error
  })
}

/** The methods undici's Request calls idempotent by itself. */
const IDEMPOTENT_BY_UNDICI: ReadonlySet<string> = new Set(['GET', 'HEAD'])

function withIdempotent(options: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
  const copy = copyOfOptions(options)
  copy.idempotent = true
  return copy
}

function withBody(options: Dispatcher.DispatchOptions, body: Blob | Buffer): Dispatcher.DispatchOptions {
  const copy = copyOfOptions(options)
  copy.body = body as unknown as Dispatcher.DispatchOptions['body']
  return copy
}

/**
 * Whether a pool's Client will open a new connection for the next request it is given: it is still the pool's,
 * open, holds no request, and its HTTP/1.1 socket is gone.
 */
function reconnectsFor(client: PairingClient, originPool: OriginPool): boolean {
  if (client.closed || client.destroyed || client.stats.size > 0) return false
  // An HTTP/2 Client outlives its session's GOAWAY in undici's own bookkeeping: a retry gets a Client of its own.
  if (client.socket !== null && (client.socket.multiplexed || !client.socket.socket.destroyed)) return false
  return originPool.clients.includes(client)
}

/** Fails a request before it starts, through whichever handler API it speaks. */
function failWith(handler: Dispatcher.DispatchHandler, error: Error): false {
  const callbacks = toCallbackHandler(handler)
  if (!callbacks.onError) throw error
  callbacks.onError(error)
  return false
}

/** Attempts written per connection opened, to two decimals. */
function requestsPerSocket(counters: StaleguardCounters): number {
  if (counters.socketsOpened === 0) return 0
  return Math.round(((counters.requests + counters.retries) / counters.socketsOpened) * 100) / 100
}

/** Whether an argument is a dispatcher (anything with `dispatch`), rather than options to build one. */
export function isDispatcher(value: unknown): value is Dispatcher {
  return typeof value === 'object' && value !== null && typeof (value as { dispatch?: unknown }).dispatch === 'function'
}

/** The dispatcher given, or a staleguard one built from the options given: the rule of every `create…(arg)`. */
export function dispatcherFrom(arg: StaleguardOptions | Dispatcher | undefined): Dispatcher {
  return isDispatcher(arg) ? arg : createDispatcher(arg)
}

/**
 * Whether a dispatcher is staleguard's (from any copy of this package), composed with interceptors or not:
 * it takes a request scope through the dispatch options.
 */
export function isScopeAware(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && (value as { [kTakesCallScope]?: unknown })[kTakesCallScope] === true
  )
}

/** Builds the staleguard dispatcher. Invalid options throw here, naming the option and its range. */
export function createDispatcher(options?: StaleguardOptions): StaleguardDispatcher {
  return new StaleguardDispatcher(options)
}
