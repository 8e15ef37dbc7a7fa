import { Readable } from 'node:stream'
import { Agent } from 'undici'

/** A request as the lab scenarios make it. */
export interface LabRequest {
  readonly method?: string
  readonly body?: string | ReadableStream<Uint8Array>
  readonly headers?: Record<string, string>
  readonly signal?: AbortSignal
}

/**
 * One way of calling the upstream. `send` resolves with the whole body, and rejects on a network error or a
 * non-2xx status: either way the request is lost to the caller.
 */
export interface LabClient {
  readonly name: string
  send(url: string, request?: LabRequest): Promise<string>
  close(): Promise<void>
  /** Retries the client made and attempts that failed before one, when it keeps count. */
  attempts?(): { readonly retries: number; readonly firstAttemptFailures: number }
}

/** Node's global fetch with whatever global dispatcher the process has (Node's default, unless installed). */
export function plainFetchClient(): LabClient {
  let failures = 0
  return {
    name: 'plain fetch',
    send: (url, request) =>
      fetch(url, toInit(request))
        .then(readOk)
        .catch((error: unknown) => {
          failures++
          throw error
        }),
    close: async () => {},
    attempts: () => ({ retries: 0, firstAttemptFailures: failures }),
  }
}

/**
 * The usual manual fix: an Agent with `keepAliveTimeout: 4000, keepAliveMaxTimeout: 4000,
 * connections: 50`, and one retry of a GET when the cause is ECONNRESET.
 */
export function manualFixClient(): LabClient {
  const agent = new Agent({ keepAliveTimeout: 4000, keepAliveMaxTimeout: 4000, connections: 50 })
  let retries = 0
  let firstAttemptFailures = 0
  return {
    name: 'manual fix',
    async send(url, request) {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        try {
          return await fetch(url, { ...toInit(request), dispatcher: agent } as unknown as RequestInit).then(readOk)
        } catch (error) {
          if (attempt === 0) firstAttemptFailures++
          const code = (error as { cause?: { code?: string } }).cause?.code
          if (attempt === 1 || code !== 'ECONNRESET' || (request?.method ?? 'GET') !== 'GET') throw error
          retries++
        }
      }
      throw new Error('unreachable')
    },
    close: () => agent.close(),
    attempts: () => ({ retries, firstAttemptFailures }),
  }
}

/** Any fetch-shaped function (createFetch, request.fetch, …) as a lab client. */
export function fetchClient(
  name: string,
  fetchImpl: typeof fetch,
  close: () => Promise<void> = async () => {},
): LabClient {
  return { name, send: (url, request) => fetchImpl(url, toInit(request)).then(readOk), close }
}

/** An `undici.request`-style function (the fast path) as a lab client; a web stream body is sent as a Node stream. */
export function requestClient(
  name: string,
  request: (
    url: string,
    options: { method: 'GET'; body?: string | Readable; headers?: Record<string, string>; signal?: AbortSignal },
  ) => Promise<{ statusCode: number; body: { text(): Promise<string> } }>,
  close: () => Promise<void> = async () => {},
): LabClient {
  return {
    name,
    async send(url, init) {
      const { statusCode, body } = await request(url, {
        method: (init?.method ?? 'GET') as 'GET',
        ...(init?.body === undefined
          ? {}
          : {
              body:
                typeof init.body === 'string'
                  ? init.body
                  : Readable.fromWeb(init.body as import('node:stream/web').ReadableStream),
            }),
        ...(init?.headers === undefined ? {} : { headers: init.headers }),
        ...(init?.signal === undefined ? {} : { signal: init.signal }),
      })
      const text = await body.text()
      if (statusCode < 200 || statusCode > 299)
        throw Object.assign(new Error(`HTTP ${statusCode}`), { code: `HTTP_${statusCode}` })
      return text
    },
    close,
  }
}

function toInit(request: LabRequest | undefined): RequestInit {
  if (!request) return {}
  const init: RequestInit & { duplex?: 'half' } = {}
  if (request.method) init.method = request.method
  if (request.headers) init.headers = request.headers
  if (request.signal) init.signal = request.signal
  if (request.body !== undefined) {
    init.body = request.body
    if (typeof request.body !== 'string') init.duplex = 'half'
  }
  return init
}

async function readOk(response: Response): Promise<string> {
  const text = await response.text()
  if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { code: `HTTP_${response.status}` })
  return text
}
