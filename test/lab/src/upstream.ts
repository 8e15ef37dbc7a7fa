import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'

/** One request as the upstream received it. */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly body: string
  readonly headers: http.IncomingHttpHeaders
  /** The headers as they came, `[name, value, …]`: `headers` joins repeated ones, this keeps each. */
  readonly rawHeaders: readonly string[]
  /** Which connection carried it (1-based, in accept order). */
  readonly connection: number
  /** When it arrived (`performance.now()` of the lab's process). */
  readonly receivedAt: number
  /** The peer's address: a proxy's outgoing address (the lab's squid uses 127.0.0.2) tells proxied requests. */
  readonly remoteAddress: string
  /** Set when the connection closed before the upstream answered. */
  closedEarly: boolean
}

export interface Upstream {
  readonly origin: string
  readonly port: number
  readonly received: ReceivedRequest[]
  /** How many requests reached the upstream with this method and path (body ignored). */
  count(method: string, path: string): number
  /** Connections accepted so far. */
  readonly connections: number
  /**
   * From now on a new connection is reset as it arrives, while open ones keep being served: a server taken
   * out of a name's answer and then out of service (its port firewalled, its load balancer target drained).
   */
  stopAccepting(): void
  close(): Promise<void>
}

export interface UpstreamOptions {
  /** Idle time before the upstream itself closes a keep-alive connection. Default 60 s: the lab's hops decide. */
  keepAliveTimeoutMs?: number
  /** Send `Keep-Alive: timeout=N` with this many seconds (Node sends its own unless overridden). */
  keepAliveHintSeconds?: number
  /** Answer every N-th response of a connection with `Connection: close`, and close it (a per-connection request limit). */
  closeEveryNthResponse?: number
  /** Close each connection silently (no `Connection: close`) 3 ms after its N-th response, as some servers and LBs do. */
  silentCloseAfterResponses?: number
  /** With `silentCloseAfterResponses`: announce the limit in `Keep-Alive: timeout=60, max=<left>`. */
  announceRequestLimit?: boolean
  /** Loopback address to listen on (default 127.0.0.1), and a fixed port (default: any free one). */
  host?: string
  port?: number
  /**
   * Serve HTTPS with this key and certificate (see `createTestCertificate`); with `ca`, accept only clients
   * whose certificate it signed (mTLS, see `createTestPki`).
   */
  tls?: { readonly key: string; readonly cert: string; readonly ca?: string }
  /** Listen on this unix socket instead of a loopback port (`origin` is then `http://localhost`). */
  socketPath?: string
}

/**
 * A local upstream that records every request it receives. Paths:
 * - `/slow?ms=N` answers after N ms;
 * - `/hang` never answers (the record's `closedEarly` turns true when the client goes away);
 * - `/early` sends its headers before reading the request body, and ends once the body is in;
 * - `/redirect?to=/path` answers 302 to that path; `/big?bytes=N` answers N bytes;
 * - `/mid-body` sends headers (with `x-lab-reset-mid-body: 1`, which the fault proxy acts on) and then a
 *   body slowly;
 * - anything else answers `{"ok":true,"n":<index>}` at once.
 */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const received: ReceivedRequest[] = []
  const connectionIds = new WeakMap<Socket, number>()
  const responsesPerConnection = new WeakMap<Socket, number>()
  let connections = 0
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // Past its request limit a connection takes nothing more: it is about to be closed without a word.
    const limit = options.silentCloseAfterResponses
    if (limit !== undefined && (responsesPerConnection.get(req.socket) ?? 0) >= limit) return
    // `/early` answers before reading the request body, as servers that reject or stream early do.
    if (req.url?.startsWith('/early')) res.writeHead(200, { 'content-type': 'text/plain' }).write('early ')
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream')
      const record: ReceivedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        connection: connectionIds.get(req.socket) ?? 0,
        receivedAt: performance.now(),
        remoteAddress: req.socket.remoteAddress ?? '',
        closedEarly: false,
      }
      received.push(record)
      res.on('close', () => {
        if (!res.writableEnded) record.closedEarly = true
      })
      if (options.keepAliveHintSeconds !== undefined)
        res.setHeader('keep-alive', `timeout=${options.keepAliveHintSeconds}`)
      const served = (responsesPerConnection.get(req.socket) ?? 0) + 1
      responsesPerConnection.set(req.socket, served)
      if (options.closeEveryNthResponse !== undefined && served % options.closeEveryNthResponse === 0)
        res.setHeader('connection', 'close')
      if (limit !== undefined) {
        if (options.announceRequestLimit) res.setHeader('keep-alive', `timeout=60, max=${Math.max(0, limit - served)}`)
        if (served >= limit) res.on('finish', () => setTimeout(() => req.socket.destroy(), 3).unref())
      }
      respond(url, res, received.length)
    })
  }
  const tls = options.tls && {
    key: options.tls.key,
    cert: options.tls.cert,
    ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true }),
  }
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest)
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 60_000
  server.headersTimeout = Math.max(server.keepAliveTimeout + 1_000, 60_000)
  server.requestTimeout = 0
  let accepting = true
  server.on('connection', (socket: Socket) => {
    if (!accepting) socket.resetAndDestroy()
  })
  // For TLS the request's socket is the TLS socket, which `secureConnection` hands over.
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (accepting) connectionIds.set(socket, ++connections)
  })
  const host = options.host ?? '127.0.0.1'
  if (options.socketPath === undefined) server.listen(options.port ?? 0, host)
  else server.listen(options.socketPath)
  await once(server, 'listening')
  const port = options.socketPath === undefined ? (server.address() as AddressInfo).port : 0
  return {
    origin:
      options.socketPath === undefined ? `${options.tls ? 'https' : 'http'}://${host}:${port}` : 'http://localhost',
    port,
    received,
    count: (method, path) => received.filter((r) => r.method === method && r.path === path).length,
    get connections() {
      return connections
    },
    stopAccepting() {
      accepting = false
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

function respond(url: URL, res: http.ServerResponse, n: number): void {
  if (res.headersSent) {
    // `/early…`: headers went out before the body was read; now that it is in, finish the answer.
    res.end(`read ${n}`)
    return
  }
  switch (url.pathname) {
    case '/slow': {
      const timer = setTimeout(
        () => res.end(JSON.stringify({ ok: true, n })),
        Number(url.searchParams.get('ms') ?? 100),
      )
      res.on('close', () => clearTimeout(timer))
      return
    }
    case '/hang':
      return
    case '/redirect':
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end()
      return
    case '/big':
      res.setHeader('content-type', 'text/plain')
      res.end('x'.repeat(Number(url.searchParams.get('bytes') ?? 10_000)))
      return
    case '/mid-body': {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-lab-reset-mid-body': '1', 'content-length': '100000' })
      res.write('x'.repeat(1_000))
      const timer = setInterval(() => res.write('x'.repeat(1_000)), 20)
      res.on('close', () => clearInterval(timer))
      return
    }
    default:
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ ok: true, n }))
  }
}
