import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { resolveOriginOptions } from '../config/resolve-options.js'
import { OriginState } from './origin-state.js'
import { TrackedSocket } from './tracked-socket.js'

// Bookkeeping only: no connection is opened, so the connector is never called.
const KEY = 'http://127.0.0.1:1'
function originState(): OriginState {
  const options = resolveOriginOptions({ learnIdleLimit: false }, KEY)
  return new OriginState(KEY, options, { connect: () => {}, proxy: null, forward: null })
}

/** A socket that carried one request and has been idle since `idleSince` (busy when `busy`). */
function socketOf(state: OriginState, idleSince: number, busy = false): TrackedSocket {
  const socket = { destroyed: false, bytesRead: 0, destroy: () => {} } as unknown as Socket
  const record = new TrackedSocket(socket, 0, null)
  record.requests = 1
  record.inFlight = busy ? 1 : 0
  record.idleSince = idleSince
  state.sockets.add(record)
  return record
}

// With no evidence, the affordable idle time is the 250 ms floor.
describe('OriginState.hasSuspectIdleSocket', () => {
  it('answers from its last walk only until the earliest idle socket could pass the affordable time', () => {
    const state = originState()
    socketOf(state, 1_000)
    expect(state.hasSuspectIdleSocket(1_100)).toBe(false)
    expect(state.hasSuspectIdleSocket(1_250)).toBe(false)
    expect(state.hasSuspectIdleSocket(1_251)).toBe(true)
  })

  it('sees a socket that went idle after the last walk once it has been idle too long', () => {
    const state = originState()
    const record = socketOf(state, 0, true)
    expect(state.hasSuspectIdleSocket(1_000)).toBe(false)
    state.release(record, 1_010)
    expect(state.hasSuspectIdleSocket(1_200)).toBe(false)
    expect(state.hasSuspectIdleSocket(1_261)).toBe(true)
  })

  it('walks again when a stale failure lowers the affordable time', () => {
    const state = originState()
    state.onSuccessfulReuse(2_000, 1, 0)
    expect(state.affordableIdleMs).toBe(1_800)
    const idle = socketOf(state, 1_000)
    expect(state.hasSuspectIdleSocket(1_470)).toBe(false)
    // Idle 1 000 ms before it died: the evidence drops to 500 ms (affordable 450), and sockets idle 500 ms or
    // more are closed. The one idle 470 ms stays, and is now suspect.
    const failed = socketOf(state, 470)
    state.recordStaleFailure(failed, 1_000, 1, 1_470)
    state.sockets.delete(failed)
    expect(state.affordableIdleMs).toBe(450)
    expect(state.suspects(idle, 1_470)).toBe(true)
    expect(state.hasSuspectIdleSocket(1_470)).toBe(true)
  })
})
