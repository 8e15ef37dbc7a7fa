import http from 'node:http'
import { describe, expect, it } from 'vitest'
import { attachAgentRetry } from '../agents/agent-retry.js'
import { type AxiosLike, retryStaleSockets } from './axios.js'

/** An axios instance reduced to its interceptor chain: what the integration decides, and what it sends. */
function fakeAxios() {
  let onRejected: ((error: unknown) => unknown) | null = null
  const sent: object[] = []
  const instance: AxiosLike = {
    interceptors: {
      response: {
        use: (_fulfilled, rejected) => {
          onRejected = rejected
          return 1
        },
        eject: () => {
          onRejected = null
        },
      },
    },
    request: async (config) => {
      sent.push(config)
      return { status: 200 }
    },
  }
  retryStaleSockets(instance)
  return { fail: (error: unknown) => onRejected!(error) as Promise<unknown>, sent }
}

function staleFailure(method: string, budget = true): Error {
  const error = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
  attachAgentRetry(error, { agent: new http.Agent(), protocol: 'http:', method, sending: () => budget })
  return error
}

describe('retryStaleSockets (axios)', () => {
  it('sends a stale GET again once, through the agent that takes a new connection', async () => {
    const { fail, sent } = fakeAxios()
    await expect(fail({ config: { method: 'get', url: '/a' }, cause: staleFailure('GET') })).resolves.toEqual({
      status: 200,
    })
    expect(sent).toHaveLength(1)
    expect(sent[0]).toHaveProperty('httpAgent')
  })

  it('sends nothing again after a redirect, for another method, for a stream body, or past the budget', async () => {
    const { fail, sent } = fakeAxios()
    const redirected = {
      config: { method: 'post', data: '{}' },
      request: { _redirectCount: 1 },
      cause: staleFailure('GET'),
    }
    await expect(fail(redirected)).rejects.toBe(redirected)
    const otherMethod = { config: { method: 'post', data: '{}' }, cause: staleFailure('GET') }
    await expect(fail(otherMethod)).rejects.toBe(otherMethod)
    const stream = { config: { method: 'put', data: { pipe() {} } }, cause: staleFailure('PUT') }
    await expect(fail(stream)).rejects.toBe(stream)
    const spent = { config: { method: 'get' }, cause: staleFailure('GET', false) }
    await expect(fail(spent)).rejects.toBe(spent)
    const answered = { config: { method: 'get' }, response: { status: 502 }, cause: staleFailure('GET') }
    await expect(fail(answered)).rejects.toBe(answered)
    expect(sent).toHaveLength(0)
  })
})
