import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { streamWasUnprocessed } from './http2-session.js'
import { TrackedSocket } from './tracked-socket.js'

const session = () => new TrackedSocket({ alpnProtocol: 'h2' } as unknown as Socket, 0, null)
const refused = new Error('Stream closed with error code NGHTTP2_REFUSED_STREAM')

describe('streamWasUnprocessed', () => {
  it('believes a REFUSED_STREAM while the session has had no GOAWAY', () => {
    expect(streamWasUnprocessed(session(), 7, refused)).toBe(true)
    expect(streamWasUnprocessed(session(), 7, new Error('other side closed'))).toBe(false)
  })

  it('after a GOAWAY, goes by its last-stream-id only: Node labels the streams undici ends then as refused, processed or not', () => {
    const record = session()
    record.goawayLastStreamId = 199
    expect(streamWasUnprocessed(record, 203, new Error('HTTP/2: "GOAWAY" frame received with code 0'))).toBe(true)
    expect(streamWasUnprocessed(record, 203, refused)).toBe(true)
    // At or below the id the server may have processed it: never a reason to send a POST again.
    expect(streamWasUnprocessed(record, 179, refused)).toBe(false)
    expect(streamWasUnprocessed(record, 199, refused)).toBe(false)
    expect(streamWasUnprocessed(record, null, refused)).toBe(false)
  })
})
