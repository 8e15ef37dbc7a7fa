/**
 * Whether a client's request body, as the client keeps it for the request, can be sent a second time: none,
 * a string, bytes, URLSearchParams, a Blob or a spec FormData can; a stream (a Node Readable, the `form-data`
 * package, an async iterable) is consumed by sending.
 */
export function isReplayableClientBody(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true
  if (typeof body !== 'object') return true
  if (body instanceof Uint8Array || body instanceof ArrayBuffer || body instanceof URLSearchParams) return true
  if (typeof Blob === 'function' && body instanceof Blob) return true
  if (typeof FormData === 'function' && body instanceof FormData) return true
  if (typeof (body as { pipe?: unknown }).pipe === 'function') return false
  if (Symbol.asyncIterator in body || typeof (body as { getReader?: unknown }).getReader === 'function') return false
  // A plain object axios or got turns into JSON, or a URL-encoded form.
  return true
}
