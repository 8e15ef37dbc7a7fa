import { spawn } from 'node:child_process'
import { getEventListeners, once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { UUID_V4, sleep, startFaultProxy, until } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { pino } from 'pino'
import { StaleguardHttpAgent, StaleguardOptionError, createDispatcher } from '@staleguard/core'
import { createAppInstallation } from '@staleguard/core/adapter'
import { staleguard as expressStaleguard } from '@staleguard/express'
import { fastifyStaleguard } from '@staleguard/fastify'
import { staleguard as koaStaleguard } from '@staleguard/koa'
import Fastify from 'fastify'
import { Agent, MockAgent, getGlobalDispatcher, interceptors, setGlobalDispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { type Framework, appLifetime, startApp } from './framework-apps.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** One raw HTTP request to the app over its own socket, so the test can hang up mid-request. */
function rawRequest(
  origin: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const url = new URL(origin)
  const request = http.request({
    host: url.hostname,
    port: url.port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: false,
  })
  const response = new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
    (resolve, reject) => {
      request.on('response', (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      })
      request.on('error', reject)
    },
  )
  request.end(options.body)
  return { request, response }
}

/**
 * The error an adapter gives for these options, where its framework hands it back: Fastify's through
 * registration (`await app.register()` rejects), Express's and Koa's from `staleguard(options)` itself.
 */
async function optionErrorOf(framework: Framework, options: unknown): Promise<unknown> {
  if (framework === 'fastify') {
    const app = Fastify()
    try {
      await app.register(fastifyStaleguard, options as never)
    } catch (error) {
      return error
    } finally {
      await app.close()
    }
    return undefined
  }
  const make = framework === 'express' ? expressStaleguard : koaStaleguard
  try {
    const middleware = make(options as never)
    await middleware.close()
  } catch (error) {
    return error
  }
  return undefined
}

/** Odd things passed as options, and what the user is told: core's sentence, the same through every adapter. */
const ODD_OPTIONS: readonly (readonly [options: unknown, message: string | RegExp])[] = [
  [
    'aws-alb',
    "staleguard: option `options` must be an object, not a preset name: pass `{ behind: 'aws-alb' }` for the load balancer in front of this app, or `{ upstream: 'aws-alb' }` for one in front of the services it calls (got \"aws-alb\")",
  ],
  [
    { behind: { idleTimeout: -1 } },
    "staleguard: option `behind.idleTimeout` must be an integer from 100 to 86400000 ms (the load balancer's idle timeout) (got -1)",
  ],
  [
    { keepAliveTimout: 1_000 },
    /^staleguard: option `keepAliveTimout` is not a staleguard option; did you mean `keepAliveTimeout`\? Known: .*, installGlobal, httpAgents, dispatcher, requestIdHeader, traceHeaders, timeout, server, behind \(got 1000\)$/,
  ],
  [
    { idleTimeout: 5_000 },
    /^staleguard: option `idleTimeout` is not a staleguard option; did you mean `upstreamIdleTimeout` or `behind: \{ idleTimeout \}`\? Known: /,
  ],
  [{ timeout: 0 }, 'staleguard: option `timeout` must be an integer from 1 to 3600000 ms per upstream call (got 0)'],
]

/**
 * What every adapter promises, checked the same way for each framework on a real listening server:
 * disconnect aborts, listeners, propagation, logging, shutdown, inbound server tuning.
 */
export function defineAdapterContract(framework: Framework): void {
  describe(`@staleguard/${framework} contract`, () => {
    const upstream = useUpstream()

    it.for(ODD_OPTIONS)(
      'explains odd options in a sentence, where the framework hands errors back (%j)',
      async ([options, message]) => {
        const error = await optionErrorOf(framework, options)
        expect(error).toBeInstanceOf(StaleguardOptionError)
        if (typeof message === 'string') expect((error as Error).message).toBe(message)
        else expect((error as Error).message).toMatch(message)
        // Core's own check, not one of the adapter's: the same words as building the installation directly.
        expect(() => createAppInstallation(options as never)).toThrow((error as Error).message)
      },
    )

    it('explains `staleguard(null)` (Fastify hands a plugin `{}` for null options, which is no error)', async () => {
      const error = await optionErrorOf(framework, null)
      if (framework === 'fastify') expect(error).toBeUndefined()
      else expect((error as Error).message).toMatch(/^staleguard: option `options` must be an object such as /)
    })

    it('explains a call the `timeout` option aborted as a timeout after that many ms', async () => {
      const app = await startApp(framework, { timeout: 100 })
      try {
        const { response } = rawRequest(
          app.origin,
          `/proxy-request?url=${encodeURIComponent(`${upstream.origin}/hang`)}`,
        )
        const result = await response
        expect(result.status).toBe(502)
        expect(JSON.parse(result.body).error).toBe(
          'staleguard: the upstream call timed out after 100 ms (the `timeout` option)',
        )
      } finally {
        await app.close()
      }
    })

    it.for(['/proxy', '/proxy-request'])(
      "aborts the handler's upstream call when the client disconnects, and does not retry it (%s)",
      async (route) => {
        const app = await startApp(framework)
        try {
          const { request, response } = rawRequest(
            app.origin,
            `${route}?url=${encodeURIComponent(`${upstream.origin}/hang`)}`,
          )
          response.catch(() => {})
          const before = upstream.count('GET', '/hang')
          expect(await until(() => upstream.count('GET', '/hang') > before, 2_000)).toBe(true)
          const record = upstream.received.filter((r) => r.path === '/hang').at(-1)!
          request.destroy()
          expect(await until(() => record.closedEarly, 2_000)).toBe(true)
          await sleep(50)
          expect(upstream.count('GET', '/hang')).toBe(before + 1)
          expect(app.stats()?.retries).toBe(0)
        } finally {
          await app.close()
        }
      },
    )

    it("sends handlers' calls through a borrowed composed dispatcher, interceptors and request scope both", async () => {
      let seen = 0
      const composed = createDispatcher().compose(interceptors.redirect(), (dispatch) => (options, handler) => {
        seen++
        return dispatch(options, handler)
      })
      const app = await startApp(framework, { dispatcher: composed })
      try {
        for (const route of ['/proxy', '/proxy-request']) {
          const id = `composed-${route}`
          const path = `/composed${route}`
          const response = await rawRequest(app.origin, `${route}?url=${encodeURIComponent(upstream.origin + path)}`, {
            headers: { 'x-request-id': id },
          }).response
          expect(response.status).toBe(200)
          expect(upstream.received.filter((r) => r.path === path).map((r) => r.headers['x-request-id'])).toEqual([id])
        }
        expect(seen).toBe(2)
        expect(app.stats()?.requests).toBe(2)
      } finally {
        await app.close()
      }
      expect(composed.closed).toBe(false)
      await composed.close()
    })

    it("installs at boot over the app's own composed Agent, keeping its lookup and its interceptors", async () => {
      let seen = 0
      const lookup = (_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
        options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)
      const theirs = new Agent({ connect: { lookup } as never, connections: 3 }).compose(
        (dispatch) => (options, handler) => {
          seen++
          return dispatch(options, handler)
        },
      )
      const previous = getGlobalDispatcher()
      setGlobalDispatcher(theirs)
      const app = await startApp(framework)
      try {
        const base = `http://svc.internal:${upstream.port}`
        for (const route of ['/proxy', '/proxy-request']) {
          const url = `${base}/inherited${route}`
          const response = await rawRequest(app.origin, `${route}?url=${encodeURIComponent(url)}`).response
          expect(response.status, response.body).toBe(200)
        }
        // Every other fetch in the process too: the global one is staleguard's, in front of it the app's chain.
        expect(await fetch(`${base}/inherited/global`).then((r) => r.status)).toBe(200)
        expect(seen).toBe(3)
        expect(app.stats()?.requests).toBe(3)
      } finally {
        await app.close()
        expect(getGlobalDispatcher()).toBe(theirs)
        setGlobalDispatcher(previous)
        await theirs.close()
      }
    })

    it("sends handlers' calls to a MockAgent in place, and nowhere else (disableNetConnect holds)", async () => {
      const mock = new MockAgent()
      mock.disableNetConnect()
      mock.get('http://mocked.test').intercept({ path: '/items', method: 'GET' }).reply(200, 'from the mock').times(2)
      const previous = getGlobalDispatcher()
      setGlobalDispatcher(mock)
      const app = await startApp(framework)
      try {
        // The test's own requests to the app go over node:http, around the mock.
        for (const route of ['/proxy', '/proxy-request']) {
          const mocked = await rawRequest(app.origin, `${route}?url=${encodeURIComponent('http://mocked.test/items')}`)
            .response
          expect(mocked).toMatchObject({ status: 200, body: 'from the mock' })
          const before = upstream.count('GET', '/real')
          const real = await rawRequest(app.origin, `${route}?url=${encodeURIComponent(`${upstream.origin}/real`)}`)
            .response
          expect(real.status).toBe(502)
          expect(upstream.count('GET', '/real')).toBe(before)
        }
        expect(app.dispatcher).toBe(mock)
        expect(getGlobalDispatcher()).toBe(mock)
        mock.assertNoPendingInterceptors()
      } finally {
        await app.close()
        setGlobalDispatcher(previous)
        await mock.close()
      }
    })

    it('does not abort a POST with a body once the body is read (only a real disconnect does)', async () => {
      const app = await startApp(framework)
      try {
        const target = encodeURIComponent(`${upstream.origin}/slow?ms=300`)
        const { response } = rawRequest(app.origin, `/proxy?url=${target}`, {
          method: 'POST',
          body: 'x'.repeat(10_000),
          headers: { 'content-type': 'text/plain' },
        })
        expect((await response).status).toBe(200)
      } finally {
        await app.close()
      }
    })

    it.for(['/many', '/many-request'])(
      'leaves no listener behind: 100 calls in one request with a long-lived signal (%s)',
      async (route) => {
        const warnings: Error[] = []
        const onWarning = (warning: Error) => warnings.push(warning)
        process.on('warning', onWarning)
        const app = await startApp(framework)
        try {
          const { response } = rawRequest(app.origin, `${route}?url=${encodeURIComponent(`${upstream.origin}/many`)}`)
          const result = await response
          expect(result).toMatchObject({ status: 200, body: '100' })
          await sleep(20)
          expect(getEventListeners(appLifetime.signal, 'abort')).toHaveLength(0)
          expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
        } finally {
          process.off('warning', onWarning)
          await app.close()
        }
      },
    )

    it('sends the request id and trace context upstream, never cookie or authorization', async () => {
      const app = await startApp(framework)
      try {
        const target = (tag: string) => `/proxy?url=${encodeURIComponent(`${upstream.origin}/headers/${tag}`)}`
        const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
        await rawRequest(app.origin, target('with-id'), {
          headers: {
            'x-request-id': 'req-abc-123',
            traceparent,
            tracestate: 'vendor=1',
            cookie: 'session=secret',
            authorization: 'Bearer secret',
          },
        }).response
        await rawRequest(app.origin, target('without-id')).response
        await rawRequest(app.origin, target('without-id-2')).response
        await rawRequest(
          app.origin,
          `/proxy-request?url=${encodeURIComponent(`${upstream.origin}/headers/fast-path`)}`,
          { headers: { 'x-request-id': 'req-fast-1', cookie: 'session=secret' } },
        ).response
        const fastPath = upstream.received.find((r) => r.path === '/headers/fast-path')!
        expect(fastPath.headers['x-request-id']).toBe('req-fast-1')
        expect(fastPath.headers.cookie).toBeUndefined()
        const withId = upstream.received.find((r) => r.path === '/headers/with-id')!
        expect(withId.headers['x-request-id']).toBe('req-abc-123')
        expect(withId.headers.traceparent).toBe(traceparent)
        expect(withId.headers.tracestate).toBe('vendor=1')
        expect(withId.headers.cookie).toBeUndefined()
        expect(withId.headers.authorization).toBeUndefined()
        const withoutId = upstream.received.find((r) => r.path === '/headers/without-id')!
        const withoutId2 = upstream.received.find((r) => r.path === '/headers/without-id-2')!
        expect(withoutId.headers['x-request-id']).toMatch(/\S+/)
        expect(withoutId2.headers['x-request-id']).not.toBe(withoutId.headers['x-request-id'])
        // Fastify names every request itself; Express and Koa requests without an id get a new UUID.
        if (framework !== 'fastify') expect(withoutId.headers['x-request-id']).toMatch(UUID_V4)
      } finally {
        await app.close()
      }
    })

    it("logs a retry through the framework's logger with origin, idle ms, attempt and request id", async () => {
      const lines: Record<string, unknown>[] = []
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)))
          done()
        },
      })
      const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 200 })
      const app = await startApp(framework, { logger: pino({ level: 'info' }, sink), learnIdleLimit: false })
      try {
        const target = (tag: string) => `/proxy?url=${encodeURIComponent(`${proxy.origin}/logged/${tag}`)}`
        await rawRequest(app.origin, target('warm')).response
        await sleep(300)
        const result = await rawRequest(app.origin, target('after-gap'), {
          headers: { 'x-request-id': 'logged-req-1' },
        }).response
        expect(result.status).toBe(200)
        const retry = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('retrying on a new connection'))
        expect(retry).toBeDefined()
        expect(retry!.staleguard).toMatchObject({ origin: proxy.origin, attempt: 2, requestId: 'logged-req-1' })
        expect((retry!.staleguard as { idleMs: number }).idleMs).toBeGreaterThan(200)
        expect(Number.isInteger((retry!.staleguard as { idleMs: number }).idleMs)).toBe(true)
      } finally {
        await app.close()
        await proxy.close()
      }
    })

    it('closes everything it owns: no open sockets, and the previous global dispatcher is back', async () => {
      const previous = getGlobalDispatcher()
      const app = await startApp(framework)
      await Promise.all(
        Array.from(
          { length: 5 },
          (_, i) =>
            rawRequest(app.origin, `/proxy?url=${encodeURIComponent(`${upstream.origin}/close/${i}`)}`).response,
        ),
      )
      expect(app.stats()?.openSockets).toBeGreaterThan(0)
      await app.close()
      expect(app.stats()?.openSockets).toBe(0)
      expect(getGlobalDispatcher()).toBe(previous)
    })

    it('with httpAgents: true, protects node:http clients on the same per-origin state, and gives the agents back on close', async () => {
      const previous = http.globalAgent
      const app = await startApp(framework, { httpAgents: true })
      try {
        expect(http.globalAgent).toBeInstanceOf(StaleguardHttpAgent)
        // A node:http call and a handler's fetch to one origin land in the one origin's books.
        await new Promise<void>((resolve, reject) =>
          http.get(`${upstream.origin}/agents/1`, (res) => res.resume().on('end', resolve)).on('error', reject),
        )
        await rawRequest(app.origin, `/proxy?url=${encodeURIComponent(`${upstream.origin}/agents/2`)}`).response
        expect(app.stats()?.origins[upstream.origin]?.requests).toBe(2)
      } finally {
        await app.close()
      }
      expect(http.globalAgent).toBe(previous)
    })

    it('lets the process exit on its own once the app is closed (no --force needed)', async () => {
      const fixture = fileURLToPath(new URL('./fixtures/exit-after-close.ts', import.meta.url))
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, framework, upstream.origin], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (c) => (output += c))
      child.stderr.on('data', (c) => (output += c))
      const exited = await Promise.race([
        once(child, 'exit').then(([code]) => code as number),
        sleep(15_000).then(() => 'hung' as const),
      ])
      if (exited === 'hung') child.kill('SIGKILL')
      expect(exited, output).toBe(0)
      expect(JSON.parse(output.trim().split('\n').at(-1)!)).toMatchObject({
        openSocketsBeforeClose: expect.any(Number),
        openSocketsAfterClose: 0,
      })
    })

    it('lets two apps live in one process: closing the first leaves the second working', async () => {
      const first = await startApp(framework)
      const second = await startApp(framework)
      await first.close()
      expect(getGlobalDispatcher()).toBe(second.dispatcher)
      const result = await rawRequest(second.origin, `/proxy?url=${encodeURIComponent(`${upstream.origin}/second`)}`)
        .response
      expect(result.status).toBe(200)
      await fetch(`${upstream.origin}/global-after-first-closed`).then((r) => r.text())
      await second.close()
    })

    it('keeps the inbound server idle longer than the load balancer in front of it', async () => {
      const app = await startApp(framework, { behind: 'aws-alb' })
      try {
        // Express and Koa meet their server on the first request; the tuning holds from then on.
        await rawRequest(app.origin, `/proxy?url=${encodeURIComponent(`${upstream.origin}/tuned/first`)}`).response
        // A raw keep-alive request: the server announces its idle timeout in the Keep-Alive header.
        const socket = net.connect(Number(new URL(app.origin).port), '127.0.0.1')
        socket.write(
          `GET /proxy?url=${encodeURIComponent(`${upstream.origin}/tuned`)} HTTP/1.1\r\nhost: app\r\nconnection: keep-alive\r\n\r\n`,
        )
        const head = await new Promise<string>((resolve) => {
          let data = ''
          socket.on('data', (c) => {
            data += c
            if (data.includes('\r\n\r\n')) resolve(data)
          })
        })
        socket.destroy()
        expect(head).toMatch(/keep-alive: timeout=66/i)
        expect(app.server.keepAliveTimeout).toBe(66_000)
        expect(app.server.headersTimeout).toBe(67_000)
      } finally {
        await app.close()
      }
    })
  })
}
