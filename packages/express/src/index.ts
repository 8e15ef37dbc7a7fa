import type { ServerResponse } from 'node:http'
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

const kScopes = Symbol('staleguard.scopes')
const kScope = Symbol('staleguard.scope')

interface ScopedRequest extends Request {
  [kScopes]: RequestScopes
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
    req[kScope] = req[kScopes].open(req.res as ServerResponse, {
      defaultRequestId: typeof id === 'string' || typeof id === 'number' ? id : undefined,
      headers: req.headers,
      logger: log as never,
    })
  }
  return req[kScope]
}

// Shared accessors: nothing is allocated per request until a handler reads `req.fetch` or `req.staleguard`.
const scopeProperties: PropertyDescriptorMap = {
  fetch: { configurable: true, enumerable: false, get(this: ScopedRequest) { return scopeOf(this).fetch } },
  staleguard: { configurable: true, enumerable: false, get(this: ScopedRequest) { return scopeOf(this) } },
}

/** `app.use(staleguard(options))`: `req.fetch` in every later handler. */
export function staleguard(options?: ExpressStaleguardOptions): StaleguardMiddleware {
  const scopes = createRequestScopes(options)
  const middleware = (req: Request, _res: Response, next: NextFunction): void => {
    scopes.tuneServer((req.socket as Socket & { server?: import('node:http').Server }).server)
    ;(req as ScopedRequest)[kScopes] = scopes
    // Own properties: Express swaps the request's prototype when it enters a mounted sub-app.
    Object.defineProperties(req, scopeProperties)
    next()
  }
  return Object.assign(middleware, {
    dispatcher: scopes.dispatcher,
    stats: () => scopes.stats(),
    close: () => scopes.close(),
  })
}

export default staleguard
