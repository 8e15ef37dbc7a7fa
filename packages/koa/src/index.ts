import {
  type RequestScopes,
  type RequestScopesOptions,
  type StaleguardRequestScope,
  type StaleguardStats,
  bindRequestScopes,
  createRequestScopes,
  defineScopeAccessors,
} from '@staleguard/core'
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa'

export type KoaStaleguardOptions = RequestScopesOptions

declare module 'koa' {
  interface ExtendableContext {
    /** The global `fetch`, scoped to this request: stale-socket safe, request id forwarded, aborted on disconnect. */
    readonly fetch: typeof globalThis.fetch
    /** This request's staleguard scope: `.request` is the fast path (undici.request semantics), `.requestId`, `.fetch`. */
    readonly staleguard: StaleguardRequestScope
  }
}

/** The middleware, plus what Koa has no hook for: closing what it owns. */
export type StaleguardMiddleware<State = DefaultState, Context = DefaultContext> = Middleware<State, Context> & {
  readonly dispatcher: RequestScopes['dispatcher']
  stats(): StaleguardStats | undefined
  /** Restores the previous global dispatcher and closes the one the middleware built. Call it on shutdown. */
  close(): Promise<void>
}

/** What a scope needs from a context; `ctx.log` is where koa-pino-logger puts its logger. */
function describeContext(ctx: ParameterizedContext & { readonly log?: unknown }) {
  return { response: ctx.res, incoming: { headers: ctx.headers, logger: ctx.log as never } }
}

/** `app.use(staleguard(options))`: `ctx.fetch` in every later middleware. */
export function staleguard<State = DefaultState, Context = DefaultContext>(options?: KoaStaleguardOptions): StaleguardMiddleware<State, Context> {
  const scopes = createRequestScopes(options)
  const middleware: Middleware<State, Context> = (ctx, next) => {
    const context = ctx as unknown as ParameterizedContext
    scopes.tuneServerOf(context.req)
    // Contexts are made from `app.context` per request, so getters there serve every request of the app.
    defineScopeAccessors(context.app.context, describeContext)
    bindRequestScopes(context, scopes)
    return next()
  }
  return Object.assign(middleware, {
    dispatcher: scopes.dispatcher,
    stats: () => scopes.stats(),
    close: () => scopes.close(),
  })
}

export default staleguard
