import { IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { type RequestScope, type RequestScopes, type RequestScopesOptions, type StaleguardRequestScope, type StaleguardStats, createRequestScopes } from '@staleguard/core'
import type { NextFunction, Request, Response } from 'express'

export type ExpressStaleguardOptions = RequestScopesOptions

declare global {
  namespace Express {
    interface Request {
      /** The global `fetch`, scoped to this request: stale-socket safe, request id forwarded, aborted on disconnect. */
      readonly fetch: typeof globalThis.fetch
      /** This request's staleguard scope: `.request` is the fast path (undici.request semantics), `.requestId`, `.fetch`. */
      readonly staleguard: StaleguardRequestScope
    }
  }
}

/** The middleware, plus what Express has no hook for: closing what it owns. */
export interface StaleguardMiddleware {
  (req: Request, res: Response, next: NextFunction): void
  readonly dispatcher: RequestScopes['dispatcher']
  stats(): StaleguardStats | undefined
  /** Restores the previous global dispatcher and closes the one the middleware built. Call it on shutdown. */
  close(): Promise<void>
}

// Registered symbols: the ESM and CommonJS builds (or two installed copies) share the getters below.
const kScopes = Symbol.for('staleguard.express.scopes')
const kScope = Symbol.for('staleguard.express.scope')

interface ScopedRequest extends Request {
  [kScopes]?: RequestScopes
  [kScope]?: RequestScope
}

/** What request-id and logging middleware (pino-http) put on the request, if any. */
interface DecoratedRequest {
  readonly id?: unknown
  readonly log?: unknown
}

function scopeOf(req: ScopedRequest): RequestScope {
  if (req[kScope] === undefined) {
    const { id, log } = req as DecoratedRequest
    req[kScope] = (req[kScopes] as RequestScopes).open(req.res as ServerResponse, {
      defaultRequestId: typeof id === 'string' || typeof id === 'number' ? id : undefined,
      headers: req.headers,
      logger: log as never,
    })
  }
  return req[kScope]
}

const kGettersInstalled = Symbol.for('staleguard.express.getters')

/**
 * `req.fetch` and `req.staleguard` are getters on the request prototype every Express app shares (the one
 * just above `http.IncomingMessage.prototype`), installed once. Defining them on each request instead
 * turns the request object into a slow dictionary for everything Express does with it afterwards, and a
 * per-app prototype would miss mounted sub-apps, which swap in their own.
 */
function installGetters(req: Request): void {
  let proto: object | null = Object.getPrototypeOf(req) as object | null
  while (proto !== null && Object.getPrototypeOf(proto) !== IncomingMessage.prototype) proto = Object.getPrototypeOf(proto) as object | null
  const target = proto ?? Object.getPrototypeOf(req)
  if (Object.hasOwn(target, kGettersInstalled)) return
  Object.defineProperties(target, {
    [kGettersInstalled]: { value: true },
    fetch: { configurable: true, enumerable: false, get(this: ScopedRequest) { return this[kScopes] === undefined ? undefined : scopeOf(this).fetch } },
    staleguard: { configurable: true, enumerable: false, get(this: ScopedRequest) { return this[kScopes] === undefined ? undefined : scopeOf(this) } },
  })
}

/** `app.use(staleguard(options))`: `req.fetch` in every later handler. */
export function staleguard(options?: ExpressStaleguardOptions): StaleguardMiddleware {
  const scopes = createRequestScopes(options)
  let tunedServer: unknown = null
  const middleware = (req: Request, _res: Response, next: NextFunction): void => {
    const server = (req.socket as Socket & { server?: import('node:http').Server }).server
    if (server !== tunedServer) {
      tunedServer = server
      scopes.tuneServer(server)
    }
    if (!(kGettersInstalled in req)) installGetters(req)
    ;(req as ScopedRequest)[kScopes] = scopes
    next()
  }
  return Object.assign(middleware, {
    dispatcher: scopes.dispatcher,
    stats: () => scopes.stats(),
    close: () => scopes.close(),
  })
}

export default staleguard
