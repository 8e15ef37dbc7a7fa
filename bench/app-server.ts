/**
 * One benchmark app in its own process: `<framework> <variant> <upstream origin>`; prints its port.
 * Variants: `staleguard` (the route calls upstream with request.fetch / req.fetch / ctx.fetch), `bare` (the
 * same route with fetch and an equivalent undici Agent) and `hand-written` (fetch and that Agent, with what a
 * user writes by hand for the scoped route's features: see {@link handWrittenFetch}).
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { Session } from 'node:inspector'
import type { Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fastifyStaleguard } from '@staleguard/fastify'
import { staleguard as expressStaleguard } from '@staleguard/express'
import { staleguard as koaStaleguard } from '@staleguard/koa'
import type { StaleguardRequestScope } from '@staleguard/core'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { Agent } from 'undici'

const [framework, variant, upstream] = process.argv.slice(2) as [
  'fastify' | 'express' | 'koa',
  'staleguard' | 'bare' | 'hand-written',
  string,
]
const url = `${upstream}/items`
/** Adapter options for experiments, e.g. STALEGUARD_OPTIONS='{"installGlobal":false}'. */
const adapterOptions = JSON.parse(process.env.STALEGUARD_OPTIONS ?? '{}') as Record<string, unknown>
const agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000, pipelining: 1 })
const bareFetch = (): Promise<string> =>
  fetch(url, { dispatcher: agent } as unknown as RequestInit).then((r) => r.text())

/** The route's work, given the framework's request scope (absent for the bare variant). */
function callUpstream(scope: StaleguardRequestScope | undefined): Promise<string> {
  if (variant === 'bare' || scope === undefined) return bareFetch()
  return scope.fetch(url).then((r) => r.text())
}

/** The methods the hand-written retry may send twice. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/**
 * The hand-written peer of the scoped route: what a user writes for the same features with a plain undici
 * Agent. The upstream call is aborted when the client goes away, through an AbortController wired to the
 * close of the incoming request's connection (read from its response closing before it ended, as the
 * scope does: the request's own `close` also fires once its body has been read); the incoming request id
 * is forwarded as `x-request-id`; and an idempotent request that fails with ECONNRESET is sent once more.
 */
async function handWrittenFetch(response: ServerResponse, requestId: string): Promise<string> {
  const controller = new AbortController()
  response.on('close', () => {
    if (!response.writableFinished) controller.abort()
  })
  const method = 'GET'
  const init = { method, dispatcher: agent, signal: controller.signal, headers: { 'x-request-id': requestId } }
  for (let attempt = 1; ; attempt++) {
    try {
      const upstreamResponse = await fetch(url, init as unknown as RequestInit)
      return await upstreamResponse.text()
    } catch (error) {
      const code = (error as { cause?: { code?: unknown } }).cause?.code
      if (attempt > 1 || code !== 'ECONNRESET' || !IDEMPOTENT.has(method)) throw error
    }
  }
}

/** The incoming `x-request-id`, else the framework's id (Fastify), else a new UUID: the rule the adapters follow. */
const incomingId = (header: string | string[] | undefined, frameworkId?: string): string =>
  typeof header === 'string' ? header : (frameworkId ?? randomUUID())

let server: Server
switch (framework) {
  case 'fastify': {
    const app = Fastify()
    if (variant === 'staleguard') await app.register(fastifyStaleguard, adapterOptions)
    app.get('/items', async (request, reply) =>
      reply
        .type('application/json')
        .send(
          variant === 'hand-written'
            ? await handWrittenFetch(reply.raw, incomingId(request.headers['x-request-id'], request.id))
            : await callUpstream(variant === 'bare' ? undefined : request.staleguard),
        ),
    )
    await app.listen({ port: 0, host: '127.0.0.1' })
    server = app.server
    break
  }
  case 'express': {
    const app = express()
    if (variant === 'staleguard') app.use(expressStaleguard(adapterOptions))
    app.get('/items', async (req, res) => {
      res
        .type('application/json')
        .send(
          variant === 'hand-written'
            ? await handWrittenFetch(res, incomingId(req.headers['x-request-id']))
            : await callUpstream(variant === 'bare' ? undefined : req.staleguard),
        )
    })
    // autocannon hangs up on requests in flight when a run ends: those aborts are expected, not errors.
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(499).end()
    })
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    break
  }
  case 'koa': {
    const app = new Koa()
    app.silent = true
    if (variant === 'staleguard') app.use(koaStaleguard(adapterOptions))
    app.use(async (ctx) => {
      ctx.type = 'application/json'
      ctx.body =
        variant === 'hand-written'
          ? await handWrittenFetch(ctx.res, incomingId(ctx.req.headers['x-request-id']))
          : await callUpstream(variant === 'bare' ? undefined : ctx.staleguard)
    })
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    break
  }
}
console.log(String((server.address() as AddressInfo).port))
process.on('disconnect', () => process.exit(0))
// The parent reads this process's CPU time around each load run: CPU per request is the app's own cost,
// whatever the load generator and the upstream on the other CPU are doing.
process.on('message', (message) => {
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpu: user + system })
  }
  // The allocation benchmark: V8's sampling heap profiler, counting objects already collected too.
  if (message === 'allocation-start' || message === 'allocation-stop') void allocationSampling(message)
})

let inspector: Session | null = null
async function allocationSampling(message: 'allocation-start' | 'allocation-stop'): Promise<void> {
  if (inspector === null) {
    inspector = new Session()
    inspector.connect()
  }
  const session = inspector
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))),
    )
  if (message === 'allocation-start') {
    await post('HeapProfiler.startSampling', {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
    process.send?.({ allocation: 'started' })
    return
  }
  const { profile } = await post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling')
  const total = (node: SamplingNode): number =>
    node.selfSize + node.children.reduce((sum, child) => sum + total(child), 0)
  process.send?.({ allocation: 'stopped', bytes: total(profile.head) })
}

interface SamplingNode {
  readonly selfSize: number
  readonly children: readonly SamplingNode[]
}
