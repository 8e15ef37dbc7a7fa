import diagnosticsChannel from 'node:diagnostics_channel'
import type { TrackedSocket } from './origin-state.js'

/**
 * undici does not tell a handler which socket carried its request. It does call the handler's start
 * callback (`onConnect`) synchronously right before it publishes `undici:client:sendHeaders` with the
 * socket, so a handler that says "I am starting" in `onConnect` can be paired with the socket here.
 * This leans on undici internals; `socket-pairing.test.ts` fails if an upgrade breaks it.
 *
 * Channels are process-wide: other undici copies publish here too. Only sockets opened by a staleguard
 * connector are known to `tracked`, so foreign sockets never pair with our handlers.
 */
export interface SocketAwaiter {
  onSocket(socket: TrackedSocket): void
}

const tracked = new WeakMap<object, TrackedSocket>()
let awaiting: SocketAwaiter | null = null
let subscribed = false

export function trackSocket(record: TrackedSocket): void {
  tracked.set(record.socket, record)
}

/** Call from the handler's `onConnect`: the next staleguard socket to send headers is this handler's. */
export function awaitSocket(awaiter: SocketAwaiter): void {
  awaiting = awaiter
}

/** Call when a handler ends, so a start that never reached the wire cannot pair with a later request. */
export function stopAwaitingSocket(awaiter: SocketAwaiter): void {
  if (awaiting === awaiter) awaiting = null
}

export function subscribeToSocketPairing(): void {
  if (subscribed) return
  subscribed = true
  diagnosticsChannel.subscribe('undici:client:sendHeaders', onSendHeaders)
}

function onSendHeaders(message: unknown): void {
  const awaiter = awaiting
  if (awaiter === null) return
  const socket = (message as { socket?: object }).socket
  const record = socket === undefined ? undefined : tracked.get(socket)
  if (record === undefined) return
  awaiting = null
  awaiter.onSocket(record)
}
