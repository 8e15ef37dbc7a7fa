import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StaleguardRequestScope, StaleguardStats } from '@staleguard/core'
import type { AppInstallationOptions } from '@staleguard/core/adapter'
import { fastifyStaleguard } from '@staleguard/fastify'
import { staleguard as expressStaleguard } from '@staleguard/express'
import { staleguard as koaStaleguard } from '@staleguard/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { pinoHttp } from 'pino-http'
import { Agent } from 'undici'

export type Framework = 'fastify' | 'express' | 'koa'
export const FRAMEWORKS: readonly Framework[] = ['fastify', 'express', 'koa']

export interface RunningApp {
  readonly framework: Framework
  readonly origin: string
  readonly server: Server
  stats(): StaleguardStats | undefined
  readonly dispatcher: unknown
  close(): Promise<void>
}

/** What a handler does with the incoming request, the same in every framework. */
interface Call {
  readonly url: string
  readonly method: string
  readonly body: string | undefined
  readonly headers: Record<string, string>
}

/** A signal that lives as long as the app, as a user's shutdown signal would: requests must not leave listeners on it. */
export const appLifetime = new AbortController()

/**
 * The routes every test app has, written once against the request scope: `/proxy` calls upstream with the
 * scoped fetch, `/proxy-request` with the fast path (`staleguard.request`).
 */
async function handle(
  path: string,
  scope: StaleguardRequestScope,
  call: Call,
): Promise<{ status: number; body: string }> {
  try {
    switch (path) {
      case '/proxy': {
        const response = await scope.fetch(call.url, {
          method: call.method,
          headers: call.headers,
          ...(call.body === undefined ? {} : { body: call.body }),
        })
        return { status: response.status, body: await response.text() }
      }
      case '/proxy-request': {
        const { statusCode, body } = await scope.request(call.url, {
          method: call.method as 'GET',
          headers: call.headers,
          ...(call.body === undefined ? {} : { body: call.body }),
        })
        return { status: statusCode, body: await body.text() }
      }
      case '/many': {
        // 100 calls in one request, each with the app-lifetime signal: no listener may pile up or outlive it.
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            scope.fetch(`${call.url}/${i}`, { signal: appLifetime.signal }).then((r) => r.text()),
          ),
        )
        return { status: 200, body: String(results.length) }
      }
      case '/many-request': {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            scope.request(`${call.url}/${i}`, { signal: appLifetime.signal }).then((r) => r.body.text()),
          ),
        )
        return { status: 200, body: String(results.length) }
      }
      default:
        return { status: 404, body: 'no such route' }
    }
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    return { status: 502, body: JSON.stringify({ error: (error as Error).message, code: cause?.code }) }
  }
}

function callFrom(
  query: Record<string, unknown>,
  method: string,
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): Call {
  // Only what the handler chooses to send goes upstream; staleguard adds the request id and trace headers.
  const forwarded: Record<string, string> = {}
  for (const name of ['idempotency-key', 'content-type']) {
    const value = headers[name]
    if (typeof value === 'string') forwarded[name] = value
  }
  return {
    url: String(query.url),
    method,
    body: method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : String(body ?? ''),
    headers: forwarded,
  }
}

export interface AppOptions extends AppInstallationOptions {
  /** A pino logger for the framework (Fastify's logger, pino-http for Express, ctx.log for Koa). */
  readonly logger?: import('pino').Logger
}

/** Express and Koa: listen, and on close stop the server, then close the middleware (they have no close hook). */
async function listenWithMiddleware(
  framework: Framework,
  server: Server,
  middleware: { stats(): StaleguardStats | undefined; dispatcher: unknown; close(): Promise<void> },
): Promise<RunningApp> {
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    framework,
    origin: `http://127.0.0.1:${port}`,
    server,
    stats: () => middleware.stats(),
    dispatcher: middleware.dispatcher,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await middleware.close()
    },
  }
}

export async function startApp(framework: Framework, appOptions: AppOptions = {}): Promise<RunningApp> {
  const { logger, ...options } = appOptions
  switch (framework) {
    case 'fastify': {
      // Fastify 5 no longer takes the request id from a header by default; most deployments turn it on.
      const app = Fastify({ requestIdHeader: 'x-request-id', ...(logger ? { loggerInstance: logger } : {}) })
      app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))
      await app.register(fastifyStaleguard, options)
      app.all('/*', async (request, reply) => {
        const url = new URL(request.url, 'http://app')
        const result = await handle(
          url.pathname,
          request.staleguard,
          callFrom(request.query as Record<string, unknown>, request.method, request.headers, request.body),
        )
        return reply.code(result.status).send(result.body)
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = app.server.address() as AddressInfo
      return {
        framework,
        origin: `http://127.0.0.1:${port}`,
        server: app.server,
        stats: () => app.staleguard.stats(),
        dispatcher: app.staleguard.dispatcher,
        close: () => app.close(),
      }
    }
    case 'express': {
      const app = express()
      const middleware = expressStaleguard(options)
      if (logger) app.use(pinoHttp({ logger }))
      app.use(middleware)
      app.use(express.text({ type: () => true }))
      app.use(async (req, res) => {
        const result = await handle(
          req.path,
          req.staleguard,
          callFrom(req.query as Record<string, unknown>, req.method, req.headers, req.body),
        )
        res.status(result.status).send(result.body)
      })
      return listenWithMiddleware(framework, app.listen(0, '127.0.0.1'), middleware)
    }
    case 'koa': {
      const app = new Koa()
      const middleware = koaStaleguard(options)
      if (logger) {
        // What koa-pino-logger does: a child logger per request on ctx.log.
        app.use((ctx, next) => {
          ;(ctx as unknown as { log: unknown }).log = logger.child({ req: { method: ctx.method, url: ctx.url } })
          return next()
        })
      }
      app.use(middleware)
      app.use(async (ctx) => {
        const chunks: Buffer[] = []
        for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
        const result = await handle(
          ctx.path,
          ctx.staleguard,
          callFrom(ctx.query, ctx.method, ctx.headers, Buffer.concat(chunks).toString()),
        )
        ctx.status = result.status
        ctx.body = result.body
      })
      return listenWithMiddleware(framework, app.listen(0, '127.0.0.1'), middleware)
    }
  }
}

/**
 * A lab client that sends each request to the app, whose handler makes the upstream call through the
 * framework's scoped fetch: the app's answer is the upstream's, or a 502 when the handler's fetch failed.
 */
export function appClient(app: RunningApp, via: 'fetch' | 'request' = 'fetch'): import('@staleguard/lab').LabClient {
  // The test's own connections to the app retire long before the app server's 5 s keep-alive.
  const inbound = new Agent({ keepAliveTimeout: 1_000 })
  const route = via === 'fetch' ? '/proxy' : '/proxy-request'
  return {
    name: `${app.framework} handler (${via})`,
    async send(url, request) {
      const response = await fetch(`${app.origin}${route}?url=${encodeURIComponent(url)}`, {
        method: request?.method ?? 'GET',
        ...(request?.headers ? { headers: request.headers } : {}),
        ...(typeof request?.body === 'string' ? { body: request.body } : {}),
        dispatcher: inbound,
      } as unknown as RequestInit)
      const text = await response.text()
      if (!response.ok)
        throw Object.assign(new Error(`HTTP ${response.status}: ${text}`), { code: `HTTP_${response.status}` })
      return text
    },
    close: () => inbound.close(),
  }
}
