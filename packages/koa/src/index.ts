import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { StaleguardLogger, StaleguardRequestScope } from '@staleguard/core'
import { type AppInstallationOptions, type ScopeControls, createAppInstallation } from '@staleguard/core/adapter'
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa'

/**
 * The middleware's options: core's dispatcher options, the request scope's (`requestIdHeader`, `traceHeaders`,
 * `timeout`), server tuning (`server`, `behind`) and ownership (`dispatcher`, `installGlobal`). A bad value
 * makes `staleguard(options)` throw a `StaleguardOptionError`.
 */
export type KoaStaleguardOptions = AppInstallationOptions

declare module 'koa' {
  interface ExtendableContext {
    /** The global `fetch`, scoped to this request: stale-socket safe, request id forwarded, aborted on disconnect. */
    readonly fetch: typeof globalThis.fetch
    /** This request's staleguard scope: `.request` is the fast path (undici.request semantics), `.requestId`, `.fetch`. */
    readonly staleguard: StaleguardRequestScope
  }
}

/** The middleware, plus what Koa has no hook for: closing what it owns. */
export type StaleguardMiddleware<State = DefaultState, Context = DefaultContext> = Middleware<State, Context> &
  ScopeControls

/** What a scope reads from a context, read only when needed; `ctx.log` is where koa-pino-logger puts its logger. */
class KoaIncoming {
  readonly #ctx: ParameterizedContext & { readonly log?: unknown }
  constructor(ctx: ParameterizedContext) {
    this.#ctx = ctx
  }
  get response(): ServerResponse {
    return this.#ctx.res
  }
  get headers(): IncomingHttpHeaders {
    return this.#ctx.req.headers
  }
  get logger(): StaleguardLogger | undefined {
    return this.#ctx.log as StaleguardLogger | undefined
  }
}

const describeContext = (ctx: ParameterizedContext): KoaIncoming => new KoaIncoming(ctx)

/** `app.use(staleguard(options))`: `ctx.fetch` in every later middleware. */
export function staleguard<State = DefaultState, Context = DefaultContext>(
  options?: KoaStaleguardOptions,
): StaleguardMiddleware<State, Context> {
  const installation = createAppInstallation(options)
  const middleware: Middleware<State, Context> = (ctx, next) => {
    const context = ctx as unknown as ParameterizedContext
    installation.bindRequest(context, context.req, appContextOf, describeContext)
    return next()
  }
  return installation.withControls(middleware)
}

/** Contexts are made from `app.context` per request, so getters there serve every request of the app. */
const appContextOf = (ctx: ParameterizedContext): object => ctx.app.context

export default staleguard
