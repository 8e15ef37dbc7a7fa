import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import { createDispatcher, StaleguardDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { type GlobalAgentsInstallation, installGlobalAgents } from '../agents/global-agents.js'
import type { StaleguardStats } from '../observe/stats.js'
import { mockAgentInPlace } from '../api/global-dispatcher-in-place.js'
import { type GlobalDispatcherInstallation, installGlobalDispatcher } from '../api/install-global-dispatcher.js'
import { type AppInstallationOptions, resolveAppOptions } from './app-options.js'
import { type DescribeIncoming, markServedBy, defineScopeAccessors, hasScopeAccessors } from './scope-accessors.js'
import { type IncomingRequest, RequestScope } from './request-scope.js'
import type { ResolvedScopeOptions } from './scope-options.js'
import type { ServerTimeouts } from './server-tuning.js'

export type { AppInstallationOptions } from './app-options.js'

/** What the Express and Koa middleware carry besides themselves, since those frameworks have no close hook. */
export interface ScopeControls {
  /** The dispatcher the middleware's request scopes send through: the one it built, or the one passed in. */
  readonly dispatcher: Dispatcher
  /** Counters of the dispatcher, when it is a staleguard one. */
  stats(): StaleguardStats | undefined
  /** Restores the previous global dispatcher and closes the one the middleware built. Call it on shutdown. */
  close(): Promise<void>
}

/**
 * staleguard installed in one app: the one piece every adapter shares. It owns (or borrows) the dispatcher,
 * installs it globally, tunes the inbound server, opens a {@link RequestScope} per incoming request wired to
 * that request's response, and on close gives back exactly what it took. Adapters only translate their
 * framework's events into calls to it.
 */
export class AppInstallation {
  /**
   * The dispatcher every scope sends through: built from the options, the `dispatcher` option (borrowed), or
   * a test suite's MockAgent when one is the global dispatcher (then nothing is built or installed).
   */
  readonly dispatcher: Dispatcher
  readonly #owned: boolean
  readonly #scopeOptions: ResolvedScopeOptions
  readonly #serverTimeouts: ServerTimeouts | null
  readonly #tunedServers = new WeakSet<Server>()
  #lastTuned: Server | null = null
  /** The prototype of the last object served (null too): the getters are known to be on its chain. Until then undefined. */
  #servedPrototype: object | null | undefined = undefined
  #installation: GlobalDispatcherInstallation<Dispatcher> | null = null
  #agents: GlobalAgentsInstallation | null = null
  #closing: Promise<void> | null = null

  /** Throws a `StaleguardOptionError` for any bad option, whatever was passed (see `resolveAppOptions`). */
  constructor(options?: AppInstallationOptions) {
    const resolved = resolveAppOptions(options)
    this.#scopeOptions = resolved.scope
    this.#serverTimeouts = resolved.serverTimeouts
    if (resolved.dispatcher !== null) {
      this.dispatcher = resolved.dispatcher
      this.#owned = false
    } else {
      // A test suite's MockAgent in charge: handlers' calls go to the mock, like every other fetch.
      const mock = mockAgentInPlace()
      if (mock !== null) {
        this.dispatcher = mock
        this.#owned = false
      } else if (resolved.installGlobal) {
        // Installed from the options, so the interceptors composed on the dispatcher in place stay in front of
        // it, for handlers' calls as for every other fetch; the installation closes it on restore.
        this.#installation = installGlobalDispatcher(resolved.core)
        this.dispatcher = this.#installation.dispatcher
        this.#owned = false
      } else {
        this.dispatcher = createDispatcher(resolved.core)
        this.#owned = true
      }
    }
    // One memory per origin for fetch and node:http alike: the agents share the dispatcher's state when it is
    // staleguard's; beside a borrowed or mock dispatcher they keep their own, from the same options.
    if (resolved.httpAgents) {
      const { inherit, connections } = resolved.core
      const cap = connections === undefined ? {} : { agentOptions: { maxSockets: connections } }
      try {
        this.#agents = installGlobalAgents(
          this.dispatcher instanceof StaleguardDispatcher
            ? { dispatcher: this.dispatcher, ...(inherit === undefined ? {} : { inherit }), ...cap }
            : resolved.core,
        )
      } catch (error) {
        // A global agent it cannot take over (a StaleguardOptionError): nothing stays installed.
        void this.close()
        throw error
      }
    }
  }

  /** Counters of the dispatcher, when it is a staleguard one. */
  stats(): StaleguardStats | undefined {
    return (this.dispatcher as Partial<StaleguardDispatcher>).stats?.()
  }

  /**
   * A scope for one incoming request, tied to its response: when the response closes before it was ended
   * the client went away, and every upstream call of the request is aborted; either way the scope then drops
   * its listeners. The disconnect is read from the response, not the request: a request emits `close` as
   * soon as its body has been read.
   */
  openScope(response: ServerResponse, incoming: IncomingRequest): RequestScope {
    const scope = new RequestScope(this.dispatcher, this.#scopeOptions, incoming)
    if (response.closed) {
      if (response.writableEnded) scope.end()
      else scope.abort()
    } else {
      // `close` comes once per response; `on` spares the wrapper `once` allocates and then removes.
      response.on('close', () => (response.writableEnded ? scope.end() : scope.abort()))
    }
    return scope
  }

  /**
   * Per request, for frameworks whose request objects come from a prototype (Express, Koa): tunes the
   * server, puts the `fetch` / `staleguard` getters on that prototype once, and marks the object as served
   * by this installation, which opens its scope on first use. No closure per request: the prototype is
   * found through `prototypeOf(instance)`.
   */
  bindRequest<T extends object>(
    instance: T,
    request: IncomingMessage,
    prototypeOf: (instance: T) => object,
    describe: DescribeIncoming<T>,
  ): void {
    this.tuneServerOf(request)
    // Asking the object itself (`in`) misses V8's caches on every Express request (each gets a shape of its
    // own); its prototype is one per app, and reading it is cheap.
    const prototype = Object.getPrototypeOf(instance) as object | null
    if (prototype !== this.#servedPrototype) {
      if (!hasScopeAccessors(instance)) defineScopeAccessors(prototypeOf(instance), describe)
      this.#servedPrototype = prototype
    }
    markServedBy(instance, this)
  }

  /** The middleware, carrying the dispatcher, its counters and `close()`. */
  withControls<M extends object>(middleware: M): M & ScopeControls {
    return Object.assign(middleware, {
      dispatcher: this.dispatcher,
      stats: () => this.stats(),
      close: () => this.close(),
    })
  }

  /** Applies the server options (`server`, `behind`) to a server, once per server. */
  tuneServer(server: Server | null | undefined): void {
    // Called on every request by Express and Koa: the server of the last request answers almost always.
    if (!server || server === this.#lastTuned || this.#serverTimeouts === null) return
    this.#lastTuned = server
    if (this.#tunedServers.has(server)) return
    this.#tunedServers.add(server)
    server.keepAliveTimeout = this.#serverTimeouts.keepAliveTimeout
    server.headersTimeout = this.#serverTimeouts.headersTimeout
  }

  /** Tunes the server that accepted this incoming request (Express and Koa meet their server this way). */
  tuneServerOf(request: IncomingMessage): void {
    if (this.#serverTimeouts === null) return
    this.tuneServer((request.socket as Socket & { server?: Server }).server)
  }

  /** Gives back the global dispatcher it installed and closes the dispatcher it built; a borrowed one is left alone. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#agents?.restore()
      await this.#installation?.restore()
      if (this.#owned) await this.dispatcher.close()
    })()
    return this.#closing
  }
}

/**
 * `new AppInstallation(options)`: what an adapter calls once, when the app registers it. A bad option throws
 * a `StaleguardOptionError` from here, whichever framework it came through.
 */
export function createAppInstallation(options?: AppInstallationOptions): AppInstallation {
  return new AppInstallation(options)
}
