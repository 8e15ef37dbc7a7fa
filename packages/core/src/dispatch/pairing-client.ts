import type { Dispatcher, Client as UndiciClient, buildConnector } from 'undici'
import { Client } from '../http/undici.js'
import { type TrackedSocket, trackedSocketOf } from './tracked-socket.js'

/**
 * undici does not tell a handler which socket carried its request. What it does, with one request at a time
 * per connection: a pool hands each request to one of its Clients, and that Client writes it on its one
 * socket, calling the handler's start callback (`onConnect`) synchronously right before. So every Client
 * staleguard creates is a PairingClient: it knows the socket its connector opened last, and introduces itself
 * to each handler it is given; in `onConnect` the handler reads the Client's socket. Public undici API only
 * (a Pool's `factory`, a Client's `connect`), and no diagnostics channel, which would make every undici request
 * in the process publish a message; `pairing-client.test.ts` checks the pairing against what the upstream saw.
 */
export const kPairWithClient = Symbol('staleguard.pairWithClient')

/** A handler that wants to know the Client its request was handed to. */
export interface PairsWithClient {
  [kPairWithClient](client: PairingClient): void
}

export class PairingClient extends Client {
  /** The socket this Client writes on now (it holds one at a time, and replaces it after a close). */
  socket: TrackedSocket | null = null
  /** Its connector is opening a connection now (from the call to its callback). */
  connecting = false

  constructor(origin: string | URL, options: UndiciClient.Options & { connect: buildConnector.connector }) {
    const { connect } = options
    let self: PairingClient | null = null
    super(origin, {
      ...options,
      connect: (connectOptions, callback) => {
        if (self !== null) self.connecting = true
        connect(connectOptions, (...result) => {
          if (self !== null) {
            self.connecting = false
            if (result[0] === null) {
              self.socket = trackedSocketOf(result[1])
              if (self.socket !== null) self.socket.client = self
            }
          }
          callback(...result)
        })
      },
    })
    self = this
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    ;(handler as Partial<PairsWithClient>)[kPairWithClient]?.(this)
    return super.dispatch(options, handler)
  }
}

/** The Pool `factory` that makes every connection of a pool a PairingClient. */
export function createPairingClient(origin: string | URL, options: object): PairingClient {
  return new PairingClient(origin, options as UndiciClient.Options & { connect: buildConnector.connector })
}
