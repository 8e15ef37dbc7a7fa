import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { isStaleSocketError } from './stale-errors.js'

describe('isStaleSocketError', () => {
  it("recognises the bare causes and fetch's wrapper", () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' })
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    const closed = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', name: 'SocketError' })
    const hangUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    for (const cause of [reset, pipe, closed, hangUp]) {
      expect(isStaleSocketError(cause)).toBe(true)
      expect(isStaleSocketError(new TypeError('fetch failed', { cause }))).toBe(true)
    }
  })

  it('rejects other failures, and a body cut after the headers', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' })
    expect(isStaleSocketError(refused)).toBe(false)
    expect(isStaleSocketError(new TypeError('fetch failed', { cause: refused }))).toBe(false)
    expect(isStaleSocketError(new TypeError('fetch failed', { cause: timeout }))).toBe(false)
    const closed = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
    expect(isStaleSocketError(new TypeError('terminated', { cause: closed }))).toBe(false)
    expect(isStaleSocketError(undefined)).toBe(false)
    expect(isStaleSocketError('ECONNRESET')).toBe(false)
  })

  it('recognises what fetch really throws when the server resets the connection', async () => {
    const server = http.createServer((req) => req.socket.resetAndDestroy())
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e)
    server.close()
    expect(error).toBeInstanceOf(TypeError)
    expect(isStaleSocketError(error)).toBe(true)
  })
})
