import type { ServerResponse } from 'node:http'
import type { IncomingRequest, RequestScope } from './request-scope.js'

/**
 * `req.fetch` / `ctx.fetch` and `req.staleguard` / `ctx.staleguard` for frameworks whose request objects
 * are built from a prototype (Express, Koa): getters defined once on that prototype, and a per-request
 * entry saying which app installation serves the request, replaced by its scope once opened.
 *
 * The entries live in a WeakMap, not on the request objects: a property added per request to an Express
 * `req` or a Koa `ctx` is a transitioning store on objects of many shapes, which V8 handles in its slow
 * path. The map is process-wide (under a registered symbol) so the ESM and CommonJS builds, or two installed
 * copies, share it. The getters' guard carries the same version as the map: a copy that stores its marks
 * differently must define its own.
 */
const kAccessors = Symbol.for('staleguard.scopeAccessors.v1')
const kServed = Symbol.for('staleguard.servedRequests.v1')

/** What serves a request object until its scope is opened: the app installation, seen through what it does here. */
export interface ScopeOpener {
  openScope(response: ServerResponse, incoming: IncomingRequest): RequestScope
}

/** What a request object maps to: what serves it, then the scope opened for it. */
type Served = ScopeOpener | RequestScope

const served: WeakMap<object, Served> = ((globalThis as { [kServed]?: WeakMap<object, Served> })[kServed] ??=
  new WeakMap())

function isScopeOpener(entry: Served): entry is ScopeOpener {
  return typeof (entry as Partial<ScopeOpener>).openScope === 'function'
}

/**
 * What a scope needs from a framework's request object: the incoming request, and its raw response (for the
 * disconnect). One object, ideally with getters, so fields nobody needs are never read from the framework's
 * object (each read of an Express `req` costs a lookup: its objects differ in shape from request to request).
 */
export type DescribeIncoming<T> = (instance: T) => IncomingRequest & { readonly response: ServerResponse }

/** Marks a request object as served by this installation (called per request by the middleware). */
export function markServedBy(instance: object, installation: ScopeOpener): void {
  const entry = served.get(instance)
  // Two staleguard middlewares on one request: the first one's scope, once opened, stays.
  if (entry === undefined || isScopeOpener(entry)) served.set(instance, installation)
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
  const scopeOf = (instance: T): RequestScope | undefined => {
    const entry = served.get(instance)
    if (entry === undefined || !isScopeOpener(entry)) return entry
    const incoming = describe(instance)
    const scope = entry.openScope(incoming.response, incoming)
    served.set(instance, scope)
    return scope
  }
  Object.defineProperties(prototype, {
    [kAccessors]: { value: true },
    fetch: {
      configurable: true,
      enumerable: false,
      get(this: T) {
        return scopeOf(this)?.fetch
      },
    },
    staleguard: {
      configurable: true,
      enumerable: false,
      get(this: T) {
        return scopeOf(this)
      },
    },
  })
}
