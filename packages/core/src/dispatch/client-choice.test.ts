import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { resolveOriginOptions } from '../config/resolve-options.js'
import { chooseClient } from './client-choice.js'
import { OriginState } from './origin-state.js'
import type { PairingClient } from './pairing-client.js'
import { TrackedSocket } from './tracked-socket.js'

const KEY = 'http://127.0.0.1:1'
const NOW = 100_000

function originWithoutEvidence(): OriginState {
  return new OriginState(KEY, resolveOriginOptions({}, KEY), {
    connect: () => {
      throw new Error('no connection in this test')
    },
    proxy: null,
    forward: null,
  })
}

/** A socket of the origin that carried a request and has been idle `idleMs`. */
function idleSocket(origin: OriginState, idleMs: number): TrackedSocket {
  const socket = {
    destroyed: false,
    destroy() {
      this.destroyed = true
    },
  }
  const record = new TrackedSocket(socket as unknown as Socket, NOW - idleMs, null)
  record.requests = 1
  origin.sockets.add(record)
  return record
}

/** The part of a pool's Client the choice reads: free unless a request is queued on it. */
function client(socket: TrackedSocket | null, queued = 0): PairingClient {
  return { closed: false, destroyed: false, stats: { size: queued }, socket } as unknown as PairingClient
}

describe('chooseClient for a request that cannot be replayed', () => {
  it('takes a Client without a socket over a suspect one, costing nothing when the pool would have taken it too', () => {
    const origin = originWithoutEvidence()
    const suspectIdle = origin.affordableIdleMs + 1_000
    const empty = client(null)
    const suspect = client(idleSocket(origin, suspectIdle))
    // The pool takes its first free Client: the empty one, which connects anew either way.
    expect(chooseClient(origin, [empty, suspect], 'proven', NOW)).toEqual({ client: empty, newConnection: false })
    // A busy Client ahead of it is not the pool's pick either.
    expect(chooseClient(origin, [client(idleSocket(origin, 0), 1), empty, suspect], 'proven', NOW)).toEqual({
      client: empty,
      newConnection: false,
    })
  })

  it('counts the new connection when the pool would have reused the suspect socket', () => {
    const origin = originWithoutEvidence()
    const empty = client(null)
    const suspect = client(idleSocket(origin, origin.affordableIdleMs + 1_000))
    expect(chooseClient(origin, [suspect, empty], 'proven', NOW)).toEqual({ client: empty, newConnection: true })
  })

  it('retires the longest idle suspect when no Client is free of one, and counts that connection', () => {
    const origin = originWithoutEvidence()
    const older = idleSocket(origin, origin.affordableIdleMs + 2_000)
    const newer = idleSocket(origin, origin.affordableIdleMs + 1_000)
    const [first, second] = [client(newer), client(older)]
    expect(chooseClient(origin, [first, second], 'proven', NOW)).toEqual({ client: second, newConnection: true })
    expect(older.socket.destroyed).toBe(true)
    expect(newer.socket.destroyed).toBe(false)
    expect(origin.counters.socketsEvicted).toBe(1)
  })

  it('takes a socket within the evidence, on no new connection, and leaves the choice to the pool without a suspect', () => {
    const origin = originWithoutEvidence()
    const fresh = client(idleSocket(origin, 10))
    const suspect = client(idleSocket(origin, origin.affordableIdleMs + 1_000))
    expect(chooseClient(origin, [suspect, fresh], 'proven', NOW)).toEqual({ client: fresh, newConnection: false })
    const calm = originWithoutEvidence()
    expect(chooseClient(calm, [client(idleSocket(calm, 10)), client(null)], 'proven', NOW)).toBeNull()
  })
})
