import { type DispatchHeaders, readHeader } from '../http/request-headers.js'

/**
 * A request carrying `Idempotency-Key` (or the older `X-Idempotency-Key`) promises the server deduplicates
 * it, which is what makes re-sending a POST or PATCH safe (the same rule as Go's net/http).
 */
export function hasIdempotencyKey(headers: DispatchHeaders): boolean {
  return readHeader(headers, 'idempotency-key') !== undefined || readHeader(headers, 'x-idempotency-key') !== undefined
}

/**
 * How a request body can be sent a second time.
 * - `reusable`: no body, or one undici can send again as is (string, bytes, Blob, FormData).
 * - `recordable`: fetch's one-shot generator over one of its own sources of known length (a string, bytes,
 *   URLSearchParams, Blob or FormData body): the bytes are kept as they are sent, so the same bytes can go again.
 * - `stream`: a caller's stream (ReadableStream, Node Readable, async iterable), or a generator nothing vouches
 *   for; it is consumed by sending and never replayed.
 * - `too-large`: known length above the configured replay limit.
 */
export type BodyReplay = 'reusable' | 'recordable' | 'stream' | 'too-large'

/**
 * What the body a dispatcher is handed stands for, when a staleguard entry point knows it and the dispatcher
 * cannot: fetch turns every body, a string as much as a caller's stream, into the same kind of async
 * generator before the dispatcher sees it. `replayable`: one of fetch's own sources of known length;
 * `stream`: a caller's stream.
 */
export type BodySource = 'replayable' | 'stream'

/**
 * Where an entry point puts that fact in the dispatch options, which interceptors copy with the rest
 * (`{ ...opts }`). A registered symbol, so copies of this package (ESM and CommonJS builds) understand each other.
 */
export const kBodySource = Symbol.for('staleguard.bodySource.v1')

/** Dispatch options that may say what their body stands for. */
export type BodySourceOptions = { [kBodySource]?: BodySource }

/**
 * What fetch will make of an `init.body`, by what the body is: a ReadableStream or any async iterable (a
 * Node Readable, an async generator) is streamed; anything else becomes a string, bytes, a Blob, a
 * URLSearchParams or a FormData, whose length fetch knows. Undefined when there is no body.
 */
export function fetchBodySourceOf(body: unknown): BodySource | undefined {
  if (body === null || body === undefined) return undefined
  if (typeof body !== 'object') return 'replayable'
  if (typeof Blob === 'function' && body instanceof Blob) return 'replayable'
  return isAsyncIterable(body) || isWebStream(body) ? 'stream' : 'replayable'
}

/**
 * What an `undici.request` body stands for: the dispatcher sees that body itself, so only an iterable needs
 * saying, as it looks like fetch's generator and is the caller's stream. Undefined for any other body.
 */
export function requestBodySourceOf(body: unknown): BodySource | undefined {
  if (isIterableBody(body)) return 'stream'
  return typeof body === 'object' && body !== null && isWebStream(body) ? 'stream' : undefined
}

/**
 * How the body of a dispatch can be sent again. `source` is what an entry point said the body stands for;
 * without it, an iterable is fetch's generator over a known-length source only if fetch itself wrote its
 * `content-length` (see {@link hasContentLengthFromFetch}).
 */
export function classifyBody(
  body: unknown,
  headers: DispatchHeaders,
  maxReplayBytes: number,
  source?: BodySource,
): BodyReplay {
  if (body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
    return 'reusable'
  }
  if (typeof body !== 'object') return 'stream'
  if (isBlobLike(body) || isFormDataLike(body)) return 'reusable'
  if (isNodeStream(body)) return 'stream'
  if (!isIterable(body)) return 'stream'
  if (source === 'stream') return 'stream'
  if (source === undefined && !hasContentLengthFromFetch(headers)) return 'stream'
  const length = declaredLength(headers)
  if (length === null) return 'stream'
  return length <= maxReplayBytes ? 'recordable' : 'too-large'
}

/** Whether undici writes the body by iterating it: a body staleguard can watch for its own failure. */
export function isIterableBody(body: unknown): body is AsyncIterable<unknown> | Iterable<unknown> {
  return (
    typeof body === 'object' &&
    body !== null &&
    !(body instanceof Uint8Array) &&
    !isNodeStream(body) &&
    !isFormDataLike(body) &&
    isIterable(body)
  )
}

/**
 * Whether fetch wrote the `content-length` header itself, which it does only for a body whose length it
 * knows (never for a stream), and always in lower case right before its `sec-fetch-mode` header (undici 6,
 * 7 and 8: Node 20 to 26 and npm undici's fetch). A caller's own `content-length` sits among the caller's
 * headers, before the `accept` and `accept-language` fetch adds, so a stream declared with one is not taken
 * for a known-length body. A caller who writes `accept`, `accept-language` and then a lower-case
 * `content-length` last, as fetch would, is the one case this cannot tell (README, "What it does", 3).
 */
export function hasContentLengthFromFetch(headers: DispatchHeaders): boolean {
  const names = headerNames(headers)
  const at = names.indexOf('content-length')
  return at !== -1 && names[at + 1] === 'sec-fetch-mode'
}

/** The header names in the order undici sends them, as written. */
function headerNames(headers: DispatchHeaders): unknown[] {
  if (!headers) return []
  if (Array.isArray(headers)) return headers.filter((_, i) => i % 2 === 0)
  if (typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    return Array.from(headers as Iterable<[string, unknown]>, ([name]) => name)
  }
  const record = headers as Record<string, unknown>
  return Object.keys(record).filter((name) => record[name] !== undefined)
}

/**
 * The declared length, or null if there is none or it is not a length. A list of one length repeated counts
 * as that length (RFC 9110 §8.6): Node 20 and 22's fetch appends its own to a caller's equal one.
 */
function declaredLength(headers: DispatchHeaders): number | null {
  const declared = readHeader(headers, 'content-length')
  if (declared === undefined) return null
  const values = declared.split(',').map((value) => value.trim())
  const text = values[0] as string
  if (!/^\d+$/.test(text) || values.some((value) => value !== text)) return null
  const length = Number(text)
  return Number.isSafeInteger(length) ? length : null
}

function isBlobLike(body: object): boolean {
  const candidate = body as { stream?: unknown; arrayBuffer?: unknown; size?: unknown }
  return (
    typeof candidate.stream === 'function' &&
    typeof candidate.arrayBuffer === 'function' &&
    typeof candidate.size === 'number'
  )
}

function isFormDataLike(body: object): boolean {
  const candidate = body as { append?: unknown; getAll?: unknown; [Symbol.toStringTag]?: unknown }
  return (
    typeof candidate.append === 'function' &&
    typeof candidate.getAll === 'function' &&
    candidate[Symbol.toStringTag] === 'FormData'
  )
}

function isNodeStream(body: object): boolean {
  const candidate = body as { pipe?: unknown; on?: unknown }
  return typeof candidate.pipe === 'function' && typeof candidate.on === 'function'
}

function isWebStream(body: object): boolean {
  return typeof (body as { getReader?: unknown }).getReader === 'function'
}

function isAsyncIterable(body: object): boolean {
  return typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
}

function isIterable(body: object): boolean {
  return isAsyncIterable(body) || typeof (body as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function'
}
