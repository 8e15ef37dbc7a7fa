import { type IncomingHttpHeaders, IncomingMessage, type ServerResponse } from 'node:http'
import type { StaleguardLogger, StaleguardRequestScope } from '@staleguard/core'
import { type AppInstallationOptions, type ScopeControls, createAppInstallation } from '@staleguard/core/adapter'
import type { NextFunction, Request, Response } from 'express'

/**
 * The middleware's options: core's dispatcher options, the request scope's (`requestIdHeader`, `traceHeaders`,
 * `timeout`), server tuning (`server`, `behind`) and ownership (`dispatcher`, `installGlobal`). A bad value
 * makes `staleguard(options)` throw a `StaleguardOptionError`.
 */
export type ExpressStaleguardOptions = AppInstallationOptions

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
export interface StaleguardMiddleware extends ScopeControls {
  /** Puts `req.fetch` and `req.staleguard` on the request (its scope opens on first use) and calls `next`. */
  (req: Request, res: Response, next: NextFunction): void
}

/** What a scope reads from an Express request, read only when needed; pino-http puts `req.id` and `req.log`. */
class ExpressIncoming {
  readonly #req: Request & { readonly id?: unknown; readonly log?: unknown }
  constructor(req: Request) {
    this.#req = req
  }
  get response(): ServerResponse {
    return this.#req.res as ServerResponse
  }
  get headers(): IncomingHttpHeaders {
    return this.#req.headers
  }
  get requestId(): string | number | undefined {
    const id = this.#req.id
    return typeof id === 'string' || typeof id === 'number' ? id : undefined
  }
  get logger(): StaleguardLogger | undefined {
    return this.#req.log as StaleguardLogger | undefined
  }
}

const describeRequest = (req: Request): ExpressIncoming => new ExpressIncoming(req)

/**
 * The getters go on the request prototype every Express app shares (the one just above
 * `http.IncomingMessage.prototype`): defining them on each request makes it a slow dictionary for
 * everything Express does with it afterwards, and a per-app prototype would miss mounted sub-apps.
 */
function sharedRequestPrototype(req: Request): object {
  let proto = Object.getPrototypeOf(req) as object | null
  while (proto !== null && Object.getPrototypeOf(proto) !== IncomingMessage.prototype)
    proto = Object.getPrototypeOf(proto) as object | null
  return proto ?? (Object.getPrototypeOf(req) as object)
}

/** `app.use(staleguard(options))`: `req.fetch` in every later handler. */
export function staleguard(options?: ExpressStaleguardOptions): StaleguardMiddleware {
  const installation = createAppInstallation(options)
  return installation.withControls((req: Request, _res: Response, next: NextFunction): void => {
    installation.bindRequest(req, req, sharedRequestPrototype, describeRequest)
    next()
  })
}

export default staleguard
