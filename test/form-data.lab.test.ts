import { type ReceivedRequest, incomingExchange, sleep, startFaultProxy } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { createDispatcher, createFetch, createRequest, installGlobalDispatcher, request } from '@staleguard/core'
import { createAppInstallation } from '@staleguard/core/adapter'
import { FormData as UndiciFormData, request as undiciRequest } from 'undici'
import { describe, expect, it } from 'vitest'

/**
 * FormData bodies from every copy that makes them (Node's global FormData, npm undici 7 here, npm undici 8 where
 * it loads) through every entry point, each sent right after an idle gap that a NAT in front of the upstream
 * forgot: the first attempt meets a dead reused socket, the retry carries the body. The upstream must see each
 * request once, with exactly the multipart body its boundary says, file part included.
 */

const NAT_IDLE_MS = 300
const undici8 = await import('undici8').catch(() => null)

type FormDataLike = { append(name: string, value: string | Blob, filename?: string): void }

function fill<F extends FormDataLike>(form: F, tag: string): F {
  form.append('tag', tag)
  form.append('note', 'line one\nline two')
  form.append('file', new File([`contents of ${tag}\r\n`], `${tag}.txt`, { type: 'text/plain' }))
  return form
}

/** What the multipart encoding of `fill(…, tag)` is with the boundary the request carried. */
function expectedBody(received: ReceivedRequest, tag: string): string {
  const boundary = /boundary=(.+)$/.exec(String(received.headers['content-type']))?.[1]
  expect(boundary).toBeDefined()
  const part = (disposition: string, body: string, type?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n${body}\r\n`
  return (
    part('name="tag"', tag) +
    part('name="note"', 'line one\r\nline two') +
    part(`name="file"; filename="${tag}.txt"`, `contents of ${tag}\r\n`, 'text/plain') +
    `--${boundary}--\r\n`
  )
}

describe('FormData bodies from any copy, replayed after a stale socket', () => {
  const upstream = useUpstream()

  /**
   * A warm socket, an idle gap past the NAT's, then `send`: its attempt dies on the dead socket and is retried.
   * Each through a NAT of its own, so no origin has learned the idle limit from an earlier one.
   */
  async function afterStaleSocket(
    tag: string,
    warm: (url: string) => Promise<unknown>,
    send: (url: string) => Promise<number>,
  ) {
    const nat = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: NAT_IDLE_MS })
    try {
      await warm(`${nat.origin}/warm`)
      await sleep(NAT_IDLE_MS + 150)
      expect(await send(`${nat.origin}/form/${tag}`)).toBe(200)
      expect(nat.stats.resets, 'the first attempt met the dead socket').toBe(1)
    } finally {
      await nat.close()
    }
    const arrived = upstream.received.filter((r) => r.path === `/form/${tag}`)
    expect(arrived).toHaveLength(1)
    expect(arrived[0]!.body).toBe(expectedBody(arrived[0]!, tag))
  }

  it.for([
    ['global', () => new FormData()],
    ['undici7', () => new UndiciFormData()],
  ] as const)('the fast path, `request` and `createRequest`, with a %s FormData', async ([copy, make]) => {
    const fastPath = createRequest()
    const status = async (promise: Promise<{ statusCode: number; body: { text(): Promise<string> } }>) => {
      const { statusCode, body } = await promise
      await body.text()
      return statusCode
    }
    try {
      const tag = `create-request-${copy}`
      await afterStaleSocket(
        tag,
        (warm) => status(fastPath(warm)),
        (target) => status(fastPath(target, { method: 'PUT', body: fill(make(), tag) as never })),
      )
      // `request` with the global dispatcher left as Node's: a shared staleguard dispatcher of its own.
      const keyed = `request-${copy}`
      await afterStaleSocket(
        keyed,
        (warm) => status(request(warm)),
        (target) =>
          status(
            request(target, {
              method: 'POST',
              headers: { 'idempotency-key': keyed },
              body: fill(make(), keyed) as never,
            }),
          ),
      )
    } finally {
      await fastPath.dispatcher.close()
    }
  })

  it('createFetch, with a global FormData', async () => {
    const staleguardFetch = createFetch()
    try {
      const tag = 'create-fetch'
      await afterStaleSocket(
        tag,
        (warm) => staleguardFetch(warm).then((r) => r.text()),
        (target) => staleguardFetch(target, { method: 'PUT', body: fill(new FormData(), tag) }).then((r) => r.status),
      )
    } finally {
      await staleguardFetch.dispatcher.close()
    }
  })

  it("a request scope's fetch and request", async () => {
    const installation = createAppInstallation({ installGlobal: false })
    const { req, res, close } = await incomingExchange()
    try {
      const scope = installation.openScope(res, { headers: req.headers })
      await afterStaleSocket(
        'scope-fetch',
        (warm) => scope.fetch(warm).then((r) => r.text()),
        (target) =>
          scope.fetch(target, { method: 'PUT', body: fill(new FormData(), 'scope-fetch') }).then((r) => r.status),
      )
      await afterStaleSocket(
        'scope-request',
        (warm) => scope.request(warm).then((r) => r.body.text()),
        async (target) => {
          const { statusCode, body } = await scope.request(target, {
            method: 'PUT',
            body: fill(new UndiciFormData(), 'scope-request') as never,
          })
          await body.text()
          return statusCode
        },
      )
      expect(
        upstream.received.filter((r) => r.path.startsWith('/form/scope-')).every((r) => r.headers['x-request-id']),
      ).toBe(true)
    } finally {
      res.end()
      close()
      await installation.close()
    }
  })

  it("undici.request of this copy through staleguard's dispatcher, with Node's global FormData", async () => {
    const dispatcher = createDispatcher()
    try {
      const send = async (target: string, body?: FormData) => {
        const response = await undiciRequest(target, {
          dispatcher,
          ...(body ? { method: 'PUT', body: body as never } : {}),
        })
        await response.body.text()
        return response.statusCode
      }
      await afterStaleSocket(
        'undici7-global-form',
        (warm) => send(warm),
        (target) => send(target, fill(new FormData(), 'undici7-global-form')),
      )
    } finally {
      await dispatcher.close()
    }
  })

  it.skipIf(undici8 === null)(
    "npm undici 8's request, with its own FormData, through the global dispatcher",
    async () => {
      const { FormData: FormData8, request: request8 } = undici8 as typeof import('undici8')
      const installation = installGlobalDispatcher()
      try {
        const send = async (target: string, body?: InstanceType<typeof FormData8>) => {
          const response = await request8(target, body ? { method: 'PUT', body } : {})
          await response.body.text()
          return response.statusCode
        }
        await afterStaleSocket(
          'undici8',
          (warm) => send(warm),
          (target) => send(target, fill(new FormData8(), 'undici8')),
        )
        expect(installation.dispatcher.stats().retries).toBe(1)
      } finally {
        await installation.restore()
      }
    },
  )
})
