import type { ServerResponse } from 'node:http'
import type { StaleguardRequestScope, StaleguardStats } from '@staleguard/core'
import {
  type AppInstallation,
  type AppInstallationOptions,
  type RequestScope,
  createAppInstallation,
} from '@staleguard/core/adapter'
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/**
 * The plugin's options: core's dispatcher options, the request scope's (`requestIdHeader`, `traceHeaders`,
 * `timeout`), server tuning (`server`, `behind`) and ownership (`dispatcher`, `installGlobal`). Fastify's own
 * `register` keys (`prefix`, `logLevel`, `logSerializers`) are left to Fastify. A bad value makes
 * `await app.register(…)` reject with a `StaleguardOptionError`.
 */
export type FastifyStaleguardOptions = AppInstallationOptions

/** `app.staleguard`: the dispatcher the plugin uses and its counters. */
export interface FastifyStaleguard {
  /** The dispatcher `request.fetch` sends through: the one the plugin built, or the `dispatcher` option. */
  readonly dispatcher: AppInstallation['dispatcher']
  /** Its counters, in total and per origin; undefined when it is not a staleguard dispatcher. */
  stats(): StaleguardStats | undefined
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The global `fetch`, scoped to this request: stale-socket safe, request id forwarded, aborted on disconnect. */
    readonly fetch: typeof globalThis.fetch
    /** This request's staleguard scope: `.request` is the fast path (undici.request semantics), `.requestId`, `.fetch`. */
    readonly staleguard: StaleguardRequestScope
  }
  interface FastifyInstance {
    /** The plugin's dispatcher and its counters (`app.staleguard.stats()`). */
    readonly staleguard: FastifyStaleguard
  }
}

const kScope = Symbol('staleguard.scope')
const kResponse = Symbol('staleguard.response')

interface ScopedRequest extends FastifyRequest {
  [kScope]: RequestScope | null
  [kResponse]: ServerResponse | null
}

/** Options Fastify's `register` itself consumes; they are not staleguard's. */
const REGISTER_KEYS = new Set(['prefix', 'logLevel', 'logSerializers'])

/** Anything but a plain object is core's to explain (`createAppInstallation` answers what to pass instead). */
function withoutRegisterKeys(options: unknown): FastifyStaleguardOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    return options as FastifyStaleguardOptions
  return Object.fromEntries(Object.entries(options).filter(([key]) => !REGISTER_KEYS.has(key)))
}

const plugin: FastifyPluginCallback<FastifyStaleguardOptions> = (app: FastifyInstance, options, done) => {
  let installation: AppInstallation
  try {
    installation = createAppInstallation(withoutRegisterKeys(options))
    installation.tuneServer(app.server)
  } catch (error) {
    // Through registration, so `await app.register(…)` (or `app.ready()`) rejects with it: thrown here, it
    // would escape Fastify's loader and end the process.
    done(error as Error)
    return
  }

  app.decorate('staleguard', { dispatcher: installation.dispatcher, stats: () => installation.stats() })
  // Fastify rejects reference-type initial values: symbol holders start null, and the getter fills them.
  app.decorateRequest(kScope, null)
  app.decorateRequest(kResponse, null)
  const scopeOf = (request: ScopedRequest): RequestScope =>
    (request[kScope] ??= installation.openScope(request[kResponse] as ServerResponse, {
      requestId: request.id,
      headers: request.headers,
      logger: request.log,
    }))
  app.decorateRequest('fetch', {
    getter(this: FastifyRequest) {
      return scopeOf(this as ScopedRequest).fetch
    },
  })
  app.decorateRequest('staleguard', {
    getter(this: FastifyRequest) {
      return scopeOf(this as ScopedRequest)
    },
  })
  // The disconnect is read from the response (Fastify's request.signal fires early on POSTs with a body).
  app.addHook('onRequest', (request, reply, next) => {
    ;(request as ScopedRequest)[kResponse] = reply.raw
    next()
  })
  app.addHook('onClose', (_instance, next) => {
    installation.close().then(() => next(), next)
  })
  done()
}

/** `await app.register(fastifyStaleguard, options)`: `request.fetch` in every handler, `app.staleguard` on the instance. */
export const fastifyStaleguard = fp(plugin, { name: '@staleguard/fastify', fastify: '5.x' })
export default fastifyStaleguard
