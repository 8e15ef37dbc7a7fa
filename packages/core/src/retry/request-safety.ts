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
 * - `recordable`: an async iterable of known length (what fetch makes of a string, bytes, URLSearchParams,
 *   Blob or FormData body): the bytes are kept as they are sent, so the same bytes can go again.
 * - `stream`: a stream or an iterable of unknown length; it is consumed by sending and never replayed.
 * - `too-large`: known length above the configured replay limit.
 */
export type BodyReplay = 'reusable' | 'recordable' | 'stream' | 'too-large'

export function classifyBody(body: unknown, headers: DispatchHeaders, maxReplayBytes: number): BodyReplay {
  if (body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
    return 'reusable'
  }
  if (typeof body !== 'object') return 'stream'
  if (isBlobLike(body) || isFormDataLike(body)) return 'reusable'
  if (isNodeStream(body)) return 'stream'
  if (!isIterable(body)) return 'stream'
  const declared = readHeader(headers, 'content-length')
  if (declared === undefined) return 'stream'
  const length = Number(declared)
  if (!Number.isSafeInteger(length) || length < 0) return 'stream'
  return length <= maxReplayBytes ? 'recordable' : 'too-large'
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

function isIterable(body: object): boolean {
  return (
    typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function' ||
    typeof (body as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function'
  )
}
