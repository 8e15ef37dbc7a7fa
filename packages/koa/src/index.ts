import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { type RequestScope, type RequestScopes, type RequestScopesOptions, type StaleguardRequestScope, type StaleguardStats, createRequestScopes } from '@staleguard/core'
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

const kScopes = Symbol.for('staleguard.koa.scopes')
const kScope = Symbol('staleguard.scope')

interface ScopedContext extends ParameterizedContext {
  [kScopes]?: RequestScopes
  [kScope]?: RequestScope
  log?: unknown
}

function scopeOf(ctx: ScopedContext): RequestScope {
  const scopes = ctx[kScopes]
  if (scopes === undefined) throw new Error('staleguard: ctx.fetch and ctx.staleguard exist in middleware after app.use(staleguard())')
  ctx[kScope] ??= scopes.open(ctx.res, { headers: ctx.headers, logger: ctx.log as never })
  return ctx[kScope]
}

/** Contexts are created from `app.context` per request, so getters there serve every request of the app. */
function ensureScopeGetters(prototype: object): void {
  if (Object.hasOwn(prototype, 'staleguard')) return
  Object.defineProperties(prototype, {
    fetch: { configurable: true, enumerable: false, get(this: ScopedContext) { return scopeOf(this).fetch } },
    staleguard: { configurable: true, enumerable: false, get(this: ScopedContext) { return scopeOf(this) } },
  })
}

/** `app.use(staleguard(options))`: `ctx.fetch` in every later middleware. */
export function staleguard<State = DefaultState, Context = DefaultContext>(options?: KoaStaleguardOptions): StaleguardMiddleware<State, Context> {
  const scopes = createRequestScopes(options)
  const middleware: Middleware<State, Context> = (ctx, next) => {
    const context = ctx as unknown as ScopedContext
    scopes.tuneServer((context.req.socket as Socket & { server?: Server }).server)
    ensureScopeGetters(context.app.context)
    context[kScopes] = scopes
    return next()
  }
  return Object.assign(middleware, {
    dispatcher: scopes.dispatcher,
    stats: () => scopes.stats(),
    close: () => scopes.close(),
  })
}

export default staleguard
