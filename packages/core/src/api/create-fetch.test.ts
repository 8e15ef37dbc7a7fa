import { useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { createFetch } from './create-fetch.js'

describe('createFetch', () => {
  const upstream = useUpstream()

  it('has the global fetch signature and returns the built-in Response', async () => {
    const staleguardFetch = createFetch()
    expectTypeOf(staleguardFetch).toMatchTypeOf<typeof fetch>()
    expectTypeOf<ReturnType<typeof staleguardFetch>>().toEqualTypeOf<Promise<Response>>()
    expectTypeOf<Parameters<typeof staleguardFetch>>().toEqualTypeOf<Parameters<typeof fetch>>()
    const response = await staleguardFetch(upstream.origin + '/a', { method: 'POST', body: 'hello' })
    expect(response).toBeInstanceOf(Response)
    expect(await response.json()).toMatchObject({ ok: true })
    await staleguardFetch(new URL(upstream.origin + '/b')).then((r) => r.text())
    await staleguardFetch(new Request(upstream.origin + '/c')).then((r) => r.text())
    expect(staleguardFetch.dispatcher.stats().requests).toBe(3)
    await staleguardFetch.dispatcher.close()
  })

  it('uses a dispatcher it is given, and lets an explicit init.dispatcher win', async () => {
    const shared = createDispatcher()
    const other = createDispatcher()
    const staleguardFetch = createFetch(shared)
    await staleguardFetch(upstream.origin + '/d').then((r) => r.text())
    await staleguardFetch(upstream.origin + '/e', { dispatcher: other } as unknown as RequestInit).then((r) => r.text())
    expect(shared.stats().requests).toBe(1)
    expect(other.stats().requests).toBe(1)
    await Promise.all([shared.close(), other.close()])
  })
})
