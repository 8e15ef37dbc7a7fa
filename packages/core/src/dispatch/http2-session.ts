import type { ClientHttp2Session } from 'node:http2'
import type { TrackedSocket } from './tracked-socket.js'
import { symbolNamed } from '../http/undici-internals.js'

// RFC 9113 §8.7: a stream above the last-stream-id of the GOAWAY that ended its session, or one refused with
// REFUSED_STREAM, was not processed by the server, so any method may go again on a new session. undici 7
// fails every open stream on a GOAWAY without looking at the id (its `onHttp2SessionGoAway`), so staleguard
// keeps the two facts it needs: each stream's id, known before undici opens it (the session's next id, read
// in `onConnect`, right before undici's synchronous `session.request`), and the GOAWAY's last-stream-id,
// heard on the session itself.

/** undici keeps a socket's session under its own `Symbol('http2Session')`, which it does not export. */
let sessionKey: symbol | null = null

/** The HTTP/2 session undici runs on a socket, or null (not h2, or an undici that keeps it elsewhere). */
export function sessionOf(socket: object): ClientHttp2Session | null {
  if (sessionKey === null) {
    sessionKey = symbolNamed(socket, 'http2Session') ?? null
    if (sessionKey === null) return null
  }
  const session = (socket as Record<symbol, unknown>)[sessionKey]
  return typeof session === 'object' && session !== null ? (session as ClientHttp2Session) : null
}

/** Told when a session's GOAWAY arrives, before undici fails its open streams. */
export type GoawayListener = (record: TrackedSocket, errorCode: number, lastStreamId: number) => void

/**
 * The id the next stream on this session gets, which is the id of the request undici is about to write (or
 * null when the session cannot be found). Starts listening for the session's GOAWAY the first time.
 */
export function nextStreamIdOn(record: TrackedSocket, heard: GoawayListener): number | null {
  const session = sessionOf(record.socket)
  if (session === null) return null
  if (!record.watchingSession) {
    record.watchingSession = true
    // Ahead of undici's own listener, which fails the open streams at once: their handlers decide then.
    session.prependOnceListener('goaway', (errorCode: number, lastStreamId: number) => {
      record.goawayLastStreamId = lastStreamId
      heard(record, errorCode, lastStreamId)
    })
  }
  return session.state?.nextStreamID ?? null
}

/** Whether the server said it never processed this stream: above its GOAWAY's last-stream-id, or refused. */
export function streamWasUnprocessed(record: TrackedSocket, streamId: number | null, error: Error): boolean {
  // Once a GOAWAY came, its last-stream-id is the server's word, and only it: Node closes the streams of a
  // session undici ends after a GOAWAY with REFUSED_STREAM too, processed or not (seen at or below the id).
  if (record.goawayLastStreamId !== null) return streamId !== null && streamId > record.goawayLastStreamId
  return record.multiplexed && /\bNGHTTP2_REFUSED_STREAM\b/.test(error.message)
}

/** Streams a server took on a session, from its GOAWAY's last-stream-id (client streams are 1, 3, 5…). */
export function streamsTakenBefore(lastStreamId: number): number {
  return lastStreamId > 0 ? (lastStreamId + 1) / 2 : 0
}
