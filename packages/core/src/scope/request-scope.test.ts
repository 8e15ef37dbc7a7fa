import { once } from 'node:events'
import { UUID_V4, incomingExchange, sleep } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'
import { getStaleguardDiagnostics } from '../observe/diagnostics.js'
import { request } from '../api/create-request.js'
import { createAppInstallation } from './app-installation.js'

function causeNames(error: unknown): string[] {
  const names: string[] = []
  for (let e = error as { name?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
    names.push(String(e.name))
  return names
}

describe('RequestScope aborts at the dispatcher', () => {
  const upstream = useUpstream()

  it('rejects a fetch with an AbortError cause, and the fast path with the AbortError, when the client goes away', async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: {} })
    const fetched = scope.fetch(`${upstream.origin}/hang`).catch((e: unknown) => e)
    const requested = scope.request(`${upstream.origin}/hang`).catch((e: unknown) => e)
    await sleep(100)
    close() // the client disconnects: the response closes before it ended
    const [fetchError, requestError] = await Promise.all([fetched, requested])
    // fetch wraps what the dispatcher reports: TypeError('fetch failed') → 'Request was cancelled.' → ours.
    expect(fetchError).toBeInstanceOf(TypeError)
    expect(causeNames(fetchError)).toContain('AbortError')
    expect(getStaleguardDiagnostics(fetchError)?.retryDecision).toBe('aborted')
    expect((requestError as Error).name).toBe('AbortError')
    expect(installation.stats()?.retries).toBe(0)
    await installation.close()
  })

  it('aborts each call after `timeout` ms with a TimeoutError, and lets the caller abort its own call', async () => {
    const installation = createAppInstallation({ installGlobal: false, timeout: 150 })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: {} })
    const timedOut = await scope.fetch(`${upstream.origin}/hang`).catch((e: unknown) => e)
    expect(causeNames(timedOut)).toContain('TimeoutError')
    // Explained as the option that ran out, not as the caller's abort.
    expect(getStaleguardDiagnostics(timedOut)?.retryDecision).toBe('aborted')
    expect(getStaleguardDiagnostics(timedOut)?.explanation).toBe(
      `GET ${upstream.origin}/hang failed; it timed out after 150 ms (the \`timeout\` option) and was not retried.`,
    )
    const fastTimedOut = (await scope.request(`${upstream.origin}/hang`).catch((e: unknown) => e)) as Error
    expect(fastTimedOut.name).toBe('TimeoutError')
    expect(fastTimedOut.message).toBe('staleguard: the upstream call timed out after 150 ms (the `timeout` option)')
    const mine = new AbortController()
    const aborted = scope.request(`${upstream.origin}/hang`, { signal: mine.signal }).catch((e: unknown) => e)
    mine.abort(new Error('mine'))
    expect(((await aborted) as Error).message).toBe('mine')
    expect(getStaleguardDiagnostics(await aborted)?.explanation).toMatch(/failed; the caller aborted it\.$/)
    // A quick call finishes well inside the timeout and is left alone.
    expect((await scope.fetch(`${upstream.origin}/fast`)).status).toBe(200)
    res.end()
    close()
    await installation.close()
  })

  it("keeps a call that outlives the response abortable by the caller's own signal", async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: {} })
    const mine = new AbortController()
    const outliving = scope.fetch(`${upstream.origin}/hang`, { signal: mine.signal }).catch((e: unknown) => e)
    await sleep(50)
    res.end() // the response goes out while the call is still running
    await sleep(50)
    mine.abort(new Error('stop'))
    const error = await Promise.race([outliving, new Promise((r) => setTimeout(() => r('still running'), 2_000))])
    expect(error).not.toBe('still running')
    expect(causeNames(error)).toContain('Error')
    close()
    await installation.close()
  })

  it('aborts every call in flight when the client goes away, however many run side by side', async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: {} })
    expect((await scope.fetch(`${upstream.origin}/fast`)).status).toBe(200)
    const hanging = [
      scope.fetch(`${upstream.origin}/hang`),
      scope.request(`${upstream.origin}/hang`),
      scope.fetch(`${upstream.origin}/hang`),
    ].map((p) => p.catch((e: unknown) => e))
    await sleep(100)
    close()
    const errors = await Promise.all(hanging)
    expect(errors.map((e) => causeNames(e).includes('AbortError'))).toEqual([true, true, true])
    await installation.close()
  })

  it('names a request by the incoming header, else the framework id, else a new UUID, and looks its logger up only to log or once its response closes', async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    const header = { 'x-request-id': 'from-header' }
    expect(installation.openScope(res, { requestId: 7, headers: header }).requestId).toBe('from-header')
    expect(installation.openScope(res, { requestId: 7, headers: {} }).requestId).toBe('7')
    expect(installation.openScope(res, { requestId: 'req-1', headers: { 'x-request-id': '' } }).requestId).toBe('req-1')
    const fresh = [
      installation.openScope(res, { headers: {} }).requestId,
      installation.openScope(res, { headers: {} }).requestId,
    ]
    for (const id of fresh) expect(id).toMatch(UUID_V4)
    expect(fresh[0]).not.toBe(fresh[1])

    let lookups = 0
    const logger = { info: () => {}, warn: () => {} }
    const scope = installation.openScope(res, {
      headers: {},
      get logger() {
        lookups++
        return logger
      },
    })
    expect((await scope.fetch(`${upstream.origin}/fast`)).status).toBe(200)
    expect(lookups).toBe(0)
    expect(scope.logger).toBe(logger)
    expect(scope.logger).toBe(logger)
    expect(lookups).toBe(1)
    res.end()
    close()
    await installation.close()
  })

  it('looks its logger up once the response is over, for calls made after the reply', async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    let lookups = 0
    const logger = { info: () => {}, warn: () => {} }
    const scope = installation.openScope(res, {
      headers: {},
      get logger() {
        lookups++
        return logger
      },
    })
    res.end()
    await once(res, 'close')
    // The scope let go of the incoming request at the close (see RequestScope), keeping its logger.
    expect(lookups).toBe(1)
    expect((await scope.fetch(`${upstream.origin}/after-reply`)).status).toBe(200)
    expect(scope.logger).toBe(logger)
    expect(lookups).toBe(1)
    // A framework getter that throws means no logger, not an exception out of the response's close listener.
    const throwing = installation.openScope(res, {
      headers: {},
      get logger(): never {
        throw new Error('no logger here')
      },
    })
    expect(throwing.logger).toBeUndefined()
    close()
    await installation.close()
  })

  it('scopes calls through a borrowed dispatcher that is not staleguard: headers, abort, never closed', async () => {
    const agent = new Agent()
    const installation = createAppInstallation({ dispatcher: agent })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: { 'x-request-id': 'borrowed-1' } })
    await scope.fetch(`${upstream.origin}/borrowed`).then((r) => r.text())
    expect(upstream.received.find((r) => r.path === '/borrowed')?.headers['x-request-id']).toBe('borrowed-1')
    const hanging = scope.request(`${upstream.origin}/hang`).catch((e: unknown) => e)
    await sleep(50)
    close()
    expect(((await hanging) as Error).name).toBe('AbortError')
    await installation.close()
    expect(agent.closed).toBe(false)
    await agent.close()
  })

  it('names the URL the fast path cannot send to, instead of undici\'s bare "Invalid URL"', async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    const scope = installation.openScope(res, { headers: {} })
    // Thrown synchronously, as undici.request throws them; `await` catches it either way.
    for (const call of [scope.request, request]) {
      expect(() => call('/items')).toThrow(
        'staleguard: cannot request "/items": it is not an absolute URL; pass one such as https://api.example.com/items',
      )
      expect(() => call('ftp://files.example/x')).toThrow(
        'staleguard: cannot request "ftp://files.example/x": only http: and https: URLs can be requested',
      )
      expect(() => call(42 as never)).toThrow('staleguard: cannot request 42: the URL must be a string or a URL object')
      let thrown: unknown
      try {
        call('http://exa mple.com/')
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(TypeError)
      expect((thrown as { code?: string }).code).toBe('ERR_INVALID_URL')
      expect((thrown as Error).cause).toBeInstanceOf(TypeError)
    }
    res.end()
    close()
    await installation.close()
  })
})
