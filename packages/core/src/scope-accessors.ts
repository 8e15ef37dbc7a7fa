import type { ServerResponse } from 'node:http'
import type { IncomingRequest, RequestScope } from './request-scope.js'
import type { RequestScopes } from './request-scopes.js'

/**
 * `req.fetch` / `ctx.fetch` and `req.staleguard` / `ctx.staleguard` for frameworks whose request objects
 * are built from a prototype (Express, Koa): getters defined once on that prototype, and a per-request
 * mark saying which {@link RequestScopes} serve the request. The scope itself is opened on first access.
 * Registered symbols, so the ESM and CommonJS builds (or two installed copies) share them.
 */
const kScopes = Symbol.for('staleguard.scopes')
const kScope = Symbol.for('staleguard.scope')
const kAccessors = Symbol.for('staleguard.scopeAccessors')

interface Marked {
  [kScopes]?: RequestScopes
  [kScope]?: RequestScope
}

/** Where a framework keeps what a scope needs: the raw response (for the disconnect) and the incoming request. */
export type DescribeIncoming<T> = (instance: T) => { readonly response: ServerResponse; readonly incoming: IncomingRequest }

/** Marks a request object as served by these scopes (called per request by the middleware). */
export function bindRequestScopes(instance: object, scopes: RequestScopes): void {
  ;(instance as Marked)[kScopes] = scopes
}

/** Whether `fetch` / `staleguard` getters are already somewhere on this object's prototype chain. */
export function hasScopeAccessors(instance: object): boolean {
  return kAccessors in instance
}

/**
 * Defines the getters on `prototype`, once. On an object no staleguard middleware has marked (another app
 * sharing the prototype, or a handler placed before the middleware) they return undefined.
 */
export function defineScopeAccessors<T extends object>(prototype: object, describe: DescribeIncoming<T>): void {
  if (Object.hasOwn(prototype, kAccessors)) return
  const scopeOf = (instance: T & Marked): RequestScope | undefined => {
    if (instance[kScope] !== undefined) return instance[kScope]
    const scopes = instance[kScopes]
    if (scopes === undefined) return undefined
    const { response, incoming } = describe(instance)
    return (instance[kScope] = scopes.open(response, incoming))
  }
  Object.defineProperties(prototype, {
    [kAccessors]: { value: true },
    fetch: { configurable: true, enumerable: false, get(this: T & Marked) { return scopeOf(this)?.fetch } },
    staleguard: { configurable: true, enumerable: false, get(this: T & Marked) { return scopeOf(this) } },
  })
}
