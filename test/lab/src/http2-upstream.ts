import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { TestCertificate } from './certificate.js'

export interface Http2UpstreamOptions {
  readonly certificate: TestCertificate
  /** Also serve HTTP/1.1 to clients that do not offer h2. */
  readonly allowHTTP1: boolean
  /** Close a session idle this long with GOAWAY, on the server's own timer (Node's `server.setTimeout`). */
  readonly sessionIdleMs: number
  /**
   * Instead, close a session idle this long when the next request arrives: GOAWAY naming the last stream it
   * processed, the new streams refused, unprocessed (the race of an idle close, made certain).
   */
  readonly goawayOnRequestAfterIdleMs?: number
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (Node's default when absent: no limit). */
  readonly maxConcurrentStreams?: number
  /** Refuse this share of streams (REFUSED_STREAM) before processing them, at random. */
  readonly refuseShare?: number
  /** After this many streams on a session, GOAWAY naming the last one; streams above it are refused, unprocessed. */
  readonly goawayEveryStreams?: number
  /** Loopback address to listen on (default 127.0.0.1), and a fixed port (default: any free one). */
  readonly host?: string
  readonly port?: number
}

export interface Http2Upstream {
  readonly origin: string
  /** Per path: the HTTP version of each arrival (one entry per time the request was processed). */
  readonly arrivals: Map<string, string[]>
  /** Streams refused, unprocessed (`goawayOnRequestAfterIdleMs`, `refuseShare`, `goawayEveryStreams`). */
  readonly refused: number
  /** GOAWAY frames sent by `goawayEveryStreams`. */
  readonly goaways: number
  /** Sessions (connections) accepted so far. */
  readonly sessionsOpened: number
  /** When the latest request was processed (`performance.now()`), or null before any. */
  readonly lastArrivalAt: number | null
  /** From now on a new connection is reset as it arrives; open sessions keep being served (see `Upstream`). */
  stopAccepting(): void
  /** A crash and a restart on the same port: every session dropped without a GOAWAY, then listening again. */
  restart(): Promise<void>
  close(): Promise<void>
}

/** A `node:http2` secure server that records what it processes, and closes idle sessions with GOAWAY. */
export async function startHttp2Upstream(options: Http2UpstreamOptions): Promise<Http2Upstream> {
  const arrivals = new Map<string, string[]>()
  const idleSince = new WeakMap<http2.Http2Session, { at: number; lastStreamId: number; closing: boolean }>()
  let refused = 0
  const { key, cert } = options.certificate
  const streamsOn = new WeakMap<http2.Http2Session, { count: number; lastStreamId: number | null }>()
  let goaways = 0
  let lastArrivalAt: number | null = null
  let accepting = true
  const settings =
    options.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: options.maxConcurrentStreams }
  const server = http2.createSecureServer({ key, cert, allowHTTP1: options.allowHTTP1, settings }, (req, res) => {
    const session = req.stream?.session
    // A stream that arrives after its session closed (past the GOAWAY this server sent) has no session any
    // more: it is above the last stream id, so it is refused unprocessed, as RFC 9113 §6.8 says.
    if (
      req.stream !== undefined &&
      session === undefined &&
      (options.goawayEveryStreams !== undefined || options.goawayOnRequestAfterIdleMs !== undefined)
    ) {
      refused++
      req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
      return
    }
    if (session && options.refuseShare !== undefined && Math.random() < options.refuseShare) {
      refused++
      req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
      return
    }
    const every = options.goawayEveryStreams
    if (session && every !== undefined) {
      const state = streamsOn.get(session) ?? { count: 0, lastStreamId: null }
      streamsOn.set(session, state)
      if (state.lastStreamId !== null && (req.stream.id ?? 0) > state.lastStreamId) {
        refused++
        req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
        return
      }
      if (++state.count >= every) {
        state.lastStreamId = req.stream.id ?? 0
        goaways++
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, state.lastStreamId)
        setTimeout(() => session.close(), 50).unref()
      }
    }
    const after = options.goawayOnRequestAfterIdleMs
    if (session && after !== undefined) {
      const state = idleSince.get(session) ?? { at: performance.now(), lastStreamId: 0, closing: false }
      idleSince.set(session, state)
      if (state.closing || (state.lastStreamId > 0 && performance.now() - state.at > after)) {
        refused++
        if (!state.closing) {
          state.closing = true
          session.goaway(http2.constants.NGHTTP2_NO_ERROR, state.lastStreamId)
          setTimeout(() => session.close(), 20).unref()
        }
        req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
        return
      }
      state.lastStreamId = Math.max(state.lastStreamId, req.stream.id ?? 0)
    }
    const path = new URL(req.url, 'https://upstream').pathname
    const digest = createHash('sha256')
    let bytes = 0
    req.on('data', (chunk: Buffer) => {
      digest.update(chunk)
      bytes += chunk.length
    })
    req.on('end', () => {
      arrivals.set(path, [...(arrivals.get(path) ?? []), req.httpVersion])
      lastArrivalAt = performance.now()
      res.setHeader('content-type', 'application/json')
      // What arrived, so a client can check its body came through byte for byte.
      res.end(JSON.stringify({ ok: true, version: req.httpVersion, bytes, sha256: digest.digest('hex') }))
      if (session) {
        const state = idleSince.get(session)
        if (state) state.at = performance.now()
      }
    })
  })
  server.setTimeout(options.sessionIdleMs)
  const sessions = new Set<http2.Http2Session>()
  let sessionsOpened = 0
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (socket: import('node:net').Socket) => {
    if (!accepting) {
      socket.resetAndDestroy()
      return
    }
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('session', (session) => {
    sessionsOpened++
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  const host = options.host ?? '127.0.0.1'
  server.listen(options.port ?? 0, host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    origin: `https://${host}:${port}`,
    get lastArrivalAt() {
      return lastArrivalAt
    },
    stopAccepting() {
      accepting = false
    },
    arrivals,
    get refused() {
      return refused
    },
    get goaways() {
      return goaways
    },
    get sessionsOpened() {
      return sessionsOpened
    },
    async restart() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const session of sessions) session.destroy()
      await closed
      server.listen(port, host)
      await once(server, 'listening')
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // A client's idle sessions would hold the server open until they time out, and so would a connection
      // whose session already ended (a GOAWAY's) while its socket lingers.
      for (const session of sessions) session.destroy()
      for (const socket of sockets) socket.destroy()
      return closed
    },
  }
}
