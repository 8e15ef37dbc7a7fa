import { Readable } from 'node:stream'
import {
  type StaleguardDispatcher,
  createDispatcher,
  createFetch,
  createRequest,
  getStaleguardDiagnostics,
  installGlobalDispatcher,
} from '@staleguard/core'
import { createAppInstallation } from '@staleguard/core/adapter'
import { type FaultProxy, incomingExchange, sleep, startFaultProxy } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { FormData as UndiciFormData } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

/**
 * Every body below is sent with PUT, a method safe to send twice, on a pooled socket the proxy answers with
 * an RST (`reset-reused`: each connection's first request passes, every later one dies). Whether the request
 * reaches the upstream on the retry's new connection, and with which bytes, is then up to the body alone.
 */

const TEXT = 'stream or not: é, ü, 漢字, 🚀 '.repeat(200)
const SENT = Buffer.from(TEXT)

/** A caller's stream each time it is asked for, in one of the shapes fetch and undici.request take. */
const streams = {
  'a ReadableStream': () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(SENT))
        controller.close()
      },
    }),
  'a Node Readable': () => Readable.from([SENT]),
  'an async generator': () =>
    (async function* () {
      yield new Uint8Array(SENT)
    })(),
}
type StreamKind = keyof typeof streams

/** One caller of the upstream: how it sends a PUT, and the dispatcher its calls go through. */
interface Caller {
  readonly dispatcher: StaleguardDispatcher
  put(url: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number }>
  get(url: string): Promise<void>
  close(): Promise<void>
  /** The FormData class its undici knows: npm undici's `extractBody` takes no other copy's. */
  readonly FormData: typeof globalThis.FormData
}

function fetchCaller(
  dispatcher: StaleguardDispatcher,
  fetchImpl: (url: string, init?: RequestInit) => Promise<Response>,
  close: () => Promise<void>,
): Caller {
  return {
    dispatcher,
    async put(url, body, headers) {
      const init = { method: 'PUT', body, duplex: 'half', ...(headers ? { headers } : {}) } as RequestInit
      const response = await fetchImpl(url, init)
      await response.text()
      return { status: response.status }
    },
    get: (url) => fetchImpl(url).then((r) => r.text().then(() => {})),
    close,
    FormData: globalThis.FormData,
  }
}

const OPTIONS = { learnIdleLimit: false } as const

const fetchCallers: Record<string, () => Promise<Caller>> = {
  createFetch: async () => {
    const f = createFetch(OPTIONS)
    return fetchCaller(f.dispatcher, f, () => f.dispatcher.close())
  },
  'global fetch (installGlobalDispatcher)': async () => {
    const installation = installGlobalDispatcher(OPTIONS)
    return fetchCaller(
      installation.dispatcher,
      (url, init) => fetch(url, init),
      () => installation.restore(),
    )
  },
  'a request scope’s fetch': async () => {
    const dispatcher = createDispatcher(OPTIONS)
    const app = createAppInstallation({ installGlobal: false, dispatcher })
    const exchange = await incomingExchange()
    const scope = app.openScope(exchange.res, { headers: {} })
    return fetchCaller(dispatcher, scope.fetch, async () => {
      exchange.res.end()
      exchange.close()
      await app.close()
      await dispatcher.close()
    })
  },
}

function fastPathCaller(): Caller {
  const request = createRequest(OPTIONS)
  return {
    dispatcher: request.dispatcher,
    async put(url, body, headers) {
      const response = await request(url, { method: 'PUT', body: body as never, ...(headers ? { headers } : {}) })
      await response.body.text()
      return { status: response.statusCode }
    },
    get: (url) => request(url).then((r) => r.body.text().then(() => {})),
    close: () => request.dispatcher.close(),
    FormData: UndiciFormData as unknown as typeof globalThis.FormData,
  }
}

const callers: Record<string, () => Promise<Caller>> = {
  ...fetchCallers,
  'the fast path (createRequest)': async () => fastPathCaller(),
}

describe('bodies on a stale reused socket, PUT', () => {
  const upstream = useUpstream()
  let proxy: FaultProxy
  const open: Caller[] = []
  let sequence = 0
  beforeAll(async () => {
    proxy = await startFaultProxy({ port: upstream.port }, { kind: 'reset-reused' })
  })
  afterEach(async () => {
    for (const caller of open.splice(0).reverse()) await caller.close()
  })
  afterAll(() => proxy.close())

  /** A caller whose one pooled socket has carried a request: the next request on it gets an RST. */
  async function withStaleSocket(make: () => Promise<Caller>): Promise<{ caller: Caller; path: string }> {
    const caller = await make()
    open.push(caller)
    const tag = ++sequence
    await caller.get(`${proxy.origin}/warm/${tag}`)
    // Back in the pool once undici has seen the response end: a request sent at once would open a new socket.
    await sleep(30)
    return { caller, path: `/put/${tag}` }
  }

  const arrivals = (path: string) => upstream.received.filter((r) => r.method === 'PUT' && r.path === path)

  async function expectNotReplayed(caller: Caller, path: string, body: unknown, headers?: Record<string, string>) {
    const error = await caller.put(`${proxy.origin}${path}`, body, headers).then(
      () => null,
      (e: unknown) => e,
    )
    expect(error, 'the PUT should have failed').not.toBeNull()
    // The failure was the stale reused socket (so the method alone would have allowed a retry)…
    expect(getStaleguardDiagnostics(error)).toMatchObject({
      reused: true,
      staleSocketError: true,
      attempt: 1,
      retryDecision: 'body-not-replayable',
    })
    // …and nothing went a second time.
    expect(caller.dispatcher.stats()).toMatchObject({ staleFailures: 1, retries: 0 })
    expect(arrivals(path)).toHaveLength(0)
  }

  async function expectReplayedOnce(caller: Caller, path: string, body: unknown, headers?: Record<string, string>) {
    const { status } = await caller.put(`${proxy.origin}${path}`, body, headers)
    expect(status).toBe(200)
    expect(caller.dispatcher.stats()).toMatchObject({ staleFailures: 1, retries: 1, retriesSucceeded: 1 })
    const received = arrivals(path)
    expect(received).toHaveLength(1)
    return received[0]!
  }

  for (const [callerName, make] of Object.entries(callers)) {
    describe(callerName, () => {
      for (const kind of Object.keys(streams) as StreamKind[]) {
        it(`never replays ${kind}`, async () => {
          const { caller, path } = await withStaleSocket(make)
          await expectNotReplayed(caller, path, streams[kind]())
        })
        it(`never replays ${kind} sent with its content-length`, async () => {
          const { caller, path } = await withStaleSocket(make)
          await expectNotReplayed(caller, path, streams[kind](), { 'content-length': String(SENT.length) })
        })
      }

      it('replays a string byte for byte, once', async () => {
        const { caller, path } = await withStaleSocket(make)
        const received = await expectReplayedOnce(caller, path, TEXT)
        expect(Buffer.from(received.body).equals(SENT)).toBe(true)
      })

      it('replays a Buffer byte for byte, once', async () => {
        const { caller, path } = await withStaleSocket(make)
        const received = await expectReplayedOnce(caller, path, Buffer.from(SENT))
        expect(Buffer.from(received.body).equals(SENT)).toBe(true)
        expect(received.headers['content-length']).toBe(String(SENT.length))
      })

      it('replays a Blob byte for byte, once', async () => {
        const { caller, path } = await withStaleSocket(make)
        const received = await expectReplayedOnce(caller, path, new Blob([SENT]))
        expect(Buffer.from(received.body).equals(SENT)).toBe(true)
      })

      it('replays FormData with its fields intact, once', async () => {
        const { caller, path } = await withStaleSocket(make)
        const form = new caller.FormData()
        form.append('text', TEXT)
        form.append('file', new Blob([SENT], { type: 'application/octet-stream' }), 'sent.bin')
        const received = await expectReplayedOnce(caller, path, form)
        // The boundary in the header is the one in the body: the replay sent the recorded bytes as they were.
        expect(Number(received.headers['content-length'])).toBe(Buffer.byteLength(received.body))
        const parsed = await new Response(received.body, {
          headers: { 'content-type': String(received.headers['content-type']) },
        }).formData()
        expect(parsed.get('text')).toBe(TEXT)
        const file = parsed.get('file') as File
        expect(file.name).toBe('sent.bin')
        expect(Buffer.from(await file.arrayBuffer()).equals(SENT)).toBe(true)
      })
    })
  }

  for (const [callerName, make] of Object.entries(fetchCallers)) {
    it(`${callerName}: replays URLSearchParams, once`, async () => {
      const { caller, path } = await withStaleSocket(make)
      const params = new URLSearchParams({ q: TEXT, n: '1' })
      const received = await expectReplayedOnce(caller, path, params)
      expect(received.body).toBe(params.toString())
    })
  }

  // Node 20 and 22's fetch adds its own content-length to the caller's ("N, N"), which undici 7 refuses to send.
  const fetchKeepsCallersLength = Number(process.versions.node.split('.')[0]) >= 24

  it.runIf(fetchKeepsCallersLength)(
    'createFetch replays a string sent with its own content-length: it knows the body is a string',
    async () => {
      const { caller, path } = await withStaleSocket(fetchCallers.createFetch!)
      const received = await expectReplayedOnce(caller, path, TEXT, { 'content-length': String(SENT.length) })
      expect(Buffer.from(received.body).equals(SENT)).toBe(true)
    },
  )

  it.runIf(fetchKeepsCallersLength)(
    'bare global fetch does not replay a string sent with its own content-length (the limit: fetch shows a stream)',
    async () => {
      const { caller, path } = await withStaleSocket(fetchCallers['global fetch (installGlobalDispatcher)']!)
      await expectNotReplayed(caller, path, TEXT, { 'content-length': String(SENT.length) })
    },
  )
})
