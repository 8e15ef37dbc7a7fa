import type { ClientRequest, IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { TrackedSocket } from '../dispatch/tracked-socket.js'
import { keepAliveMaxOf } from '../http/keep-alive-hint.js'
import { reportRetryOutcome } from '../observe/events.js'
import { failRequest } from './request-failure.js'
import type { AgentConnection, RequestWatch } from './watched-request.js'

export type { AgentConnection, RetryRoute } from './watched-request.js'

const kWatch = Symbol('staleguard.agentRequest')
const kConnection = Symbol('staleguard.agentConnection')

type WatchedRequest = ClientRequest & { [kWatch]?: RequestWatch; res?: IncomingMessage | null }

/** node:http's socket, which names the request it carries. */
type AgentSocket = Socket & { [kConnection]?: AgentConnection; _httpMessage?: WatchedRequest | null }

/** The request the agent is placing now, synchronously: most get their socket before placing returns. */
let placing: RequestWatch | null = null

/**
 * The agent starts placing a request: its watch is counted, and found by `noteSocket` while it is placed.
 * Nothing goes on the request itself and no listener: the watch goes on the connection it is handed, whose
 * events, listened to once per connection (`markAgentConnection`), say how it ends. Only a request that waits
 * in the agent's queue, or fails after its socket closed, is given its watch and a listener (`placed`,
 * `catchTheFailure`).
 */
export function startPlacing(watch: RequestWatch): void {
  watch.origin.counters.requests++
  watch.origin.inFlight++
  placing = watch
}

/** The agent has placed the request (or failed to): one without its socket yet waits in the agent's queue. */
export function placed(watch: RequestWatch): void {
  // A request placed from inside another's placing (a listener of the app's) has let go of it already; the
  // outer one, found by nobody now, is noted by its 'socket' event (`watchQueued`).
  if (placing === watch) placing = null
  watch.placedAt = -1
  if (watch.record === null && !watch.finished) watchQueued(watch)
}

/**
 * The request got its socket. node:http hands it over in three places: a free socket (the agent's
 * `reuseSocket`), a new one (its `createSocket` callback), or a socket freed while the request waited in the
 * queue (`watchQueued`).
 */
export function noteSocket(req: ClientRequest, socket: Socket): void {
  const watch = placing !== null && placing.req === req ? placing : (req as WatchedRequest)[kWatch]
  const connection = (socket as AgentSocket)[kConnection]
  if (watch == null || connection === undefined || watch.record !== null || watch.finished) return
  const { record } = connection
  const now = watch.placedAt >= 0 ? watch.placedAt : performance.now()
  watch.record = record
  watch.connection = connection
  connection.running = watch
  watch.reused = record.requests > 0
  watch.idleMs = watch.reused ? Math.round(now - record.idleSince) : null
  record.idleBeforeLastWriteMs = watch.idleMs ?? 0
  watch.bytesReadAtStart = socket.bytesRead
  watch.requestsBefore = record.requests
  watch.writtenAt = now
  record.requests++
  record.inFlight++
  if (watch.reused) watch.origin.counters.reusedRequests++
}

/** The request waits in the agent's queue: its socket comes later (or never, if it is destroyed first). */
function watchQueued(watch: RequestWatch): void {
  const req = watch.req as WatchedRequest | null
  if (req === null) return
  req[kWatch] = watch
  req.once('socket', onQueuedSocket)
  req.once('close', onQueuedClose)
}

function onQueuedSocket(this: ClientRequest, socket: Socket): void {
  noteSocket(this, socket)
}

function onQueuedClose(this: WatchedRequest): void {
  const watch = this[kWatch]
  if (watch !== undefined && watch.record === null && !watch.finished) finish(watch)
}

/**
 * A connection the agent opened: its events tell how each request on it ends (its 'free', answered, is
 * heard on the agent: `finishRequestOn`). `error` (a reset, a broken pipe): that error is the request's;
 * `end` (the server's FIN) and `close` before an answer: node:http fails the request with a `socket hang up`
 * of its own, caught on the request itself. These listeners come before node:http's own, which it adds per
 * request. The error is read from its own event, not from `socket.errored` at `close`: a socket's close comes
 * from its handle a loop iteration later, after the client (axios) has already handed the error to its
 * promise chain.
 */
export function markAgentConnection(socket: Socket, connection: AgentConnection): void {
  ;(socket as AgentSocket)[kConnection] = connection
  socket.on('error', onConnectionError)
  socket.on('end', onConnectionEnd)
  socket.on('close', onConnectionClose)
  socket.once('agentRemove', onConnectionRemoved)
}

export function agentConnectionOf(socket: Socket): AgentConnection | undefined {
  return (socket as AgentSocket)[kConnection]
}

/**
 * The request on this socket now and its watch, if it is staleguard's and still running: the connection's
 * own note of it (node:http's `_httpMessage` is set a tick after the socket is handed over on Node 20 and 22,
 * and let go before `close` on an upgrade).
 */
function runningOn(socket: AgentSocket): RequestWatch | null {
  const watch = socket[kConnection]?.running
  return watch == null || watch.finished ? null : watch
}

/**
 * The socket's request is answered and the socket comes free: heard on the agent's 'free' event, before
 * node:http's own listener lets go of the request (see `hearFreeSocketsFirst`).
 */
export function finishRequestOn(socket: Socket): void {
  const running = runningOn(socket as AgentSocket)
  if (running !== null) finish(running)
}

function onConnectionError(this: AgentSocket, error: Error): void {
  const running = runningOn(this)
  if (running !== null && running.req !== null && !running.failed) failRequest(running.req, running, error)
}

function onConnectionEnd(this: AgentSocket): void {
  const running = runningOn(this)
  if (running !== null) catchTheFailure(running)
}

function onConnectionClose(this: AgentSocket): void {
  const running = runningOn(this)
  if (running === null) return
  catchTheFailure(running)
  finish(running)
}

/**
 * The socket left the pool for its caller (an upgrade, a CONNECT tunnel): the request is over, and the
 * socket's events are the caller's alone from now on (an error on it must reach the caller unheard by us).
 */
function onConnectionRemoved(this: AgentSocket): void {
  const running = runningOn(this)
  if (running !== null) finish(running)
  this.removeListener('error', onConnectionError)
  this.removeListener('end', onConnectionEnd)
  this.removeListener('close', onConnectionClose)
}

/** Before an answer, node:http is about to fail the request with an error made on the spot: listened for. */
function catchTheFailure(watch: RequestWatch): void {
  const req = watch.req as WatchedRequest | null
  if (req === null || watch.failed || req.res != null || req.listeners('error').includes(onFailure)) return
  req[kWatch] = watch
  // First in line and once: the caller's own listeners (got's are all `once`) are still there when it runs.
  req.prependOnceListener('error', onFailure)
}

// A listener of ours would make an unhandled request error quiet: with no listener of the caller's left, the
// error is thrown again, as node:http's emitter would have thrown it.
function onFailure(this: WatchedRequest, error: Error): void {
  const watch = this[kWatch]
  if (watch !== undefined && !watch.failed) failRequest(this, watch, error)
  if (this.listenerCount('error') === 0) throw error
}

/** The request is over: what its response proved is learned, and its socket goes idle (or is retired). */
function finish(watch: RequestWatch): void {
  watch.finished = true
  const { origin, record, connection } = watch
  const req = watch.req as WatchedRequest | null
  watch.req = null
  if (connection !== null && connection.running === watch) connection.running = null
  origin.inFlight--
  const now = performance.now()
  if (req?.res != null) answered(req, watch, record, req.res, now)
  if (record !== null) origin.release(record, now)
}

/** The last `Keep-Alive` hint read that has no `max` (servers send the same one on every response). */
let lastHintWithoutMax: string | null = null

/** Read once the request is over, not as the response comes: no listener on the request. */
function answered(
  req: ClientRequest,
  watch: RequestWatch,
  record: TrackedSocket | null,
  res: IncomingMessage,
  now: number,
): void {
  const { origin } = watch
  if (watch.attempt > 1) {
    origin.counters.retriesSucceeded++
    const statusCode = res.statusCode ?? 0
    reportRetryOutcome({ origin: origin.key, method: req.method, path: req.path, attempt: watch.attempt, statusCode })
  }
  if (record === null || watch.failed) return
  if (watch.reused && watch.idleMs !== null) origin.onSuccessfulReuse(watch.idleMs, watch.requestsBefore, now)
  const hint = res.headers['keep-alive']
  // Node's servers say `timeout=5` on every response: only a hint with `max` in it is read further.
  if (typeof hint !== 'string' || hint === lastHintWithoutMax) return
  if (!/max/i.test(hint)) {
    lastHintWithoutMax = hint
    return
  }
  const max = keepAliveMaxOf(['keep-alive', hint])
  if (max !== null) record.serverRequestLimit = record.requests + max
}
