import type { Dispatcher } from 'undici'
import { type BodySourceOptions, classifyBody, isIterableBody, kBodySource } from '../retry/request-safety.js'

/**
 * undici 7 writes a body it reads by iterating (every body of Node's fetch: a generator over its source) on
 * an HTTP/2 session only when no other stream runs there, so on a busy session each such request waits, and
 * the Pool opens a session for it. A body that can be replayed anyway (a known length, up to this size) is
 * read first and written as the bytes it is: it shares the session, and a retry needs no recording.
 */
const MAX_COLLECTED_BYTES = 1024 * 1024

/** Whether a request's body is read before it goes out on a shared session (see above). */
export function collectsBodyFirst(options: Dispatcher.DispatchOptions): boolean {
  const { body } = options
  if (!isIterableBody(body)) return false
  const replay = classifyBody(
    body,
    options.headers as Parameters<typeof classifyBody>[1],
    MAX_COLLECTED_BYTES,
    (options as BodySourceOptions)[kBodySource],
  )
  return replay === 'recordable'
}

/** The body's bytes, in one Buffer. */
export async function collectBody(body: AsyncIterable<unknown> | Iterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk))
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    else throw new TypeError('staleguard: a request body chunk must be a string or a Uint8Array')
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}
