import { useUpstream } from '@staleguard/lab/vitest'
import { type Dispatcher, getGlobalDispatcher, interceptors } from 'undici'
import { describe, expect, it } from 'vitest'
import { createFetch } from '../api/create-fetch.js'
import { createRequest } from '../api/create-request.js'
import { installGlobalDispatcher } from '../api/install-global-dispatcher.js'
import { createDispatcher } from './staleguard-dispatcher.js'

/** An interceptor that counts the dispatches passing through it: proof that a call went through the chain. */
function counting(): { interceptor: Dispatcher.DispatcherComposeInterceptor; readonly seen: number } {
  let seen = 0
  return {
    interceptor: (dispatch) => (options, handler) => {
      seen++
      return dispatch(options, handler)
    },
    get seen() {
      return seen
    },
  }
}

describe('a staleguard dispatcher composed with interceptors', () => {
  const upstream = useUpstream()

  it('keeps stats(), close() and destroy(), and its calls pass through the interceptors', async () => {
    const count = counting()
    const composed = createDispatcher().compose(
      interceptors.dns(),
      interceptors.redirect(),
      interceptors.retry(),
      interceptors.decompress(),
      interceptors.cache(),
      count.interceptor,
    )
    const fetchThrough = createFetch(composed)
    await fetchThrough(`${upstream.origin}/composed/fetch`).then((r) => r.text())
    await createRequest(composed)(`${upstream.origin}/composed/request`).then((r) => r.body.text())
    expect(count.seen).toBe(2)
    expect(composed.stats().requests).toBe(2)
    expect(composed.stats().origins[upstream.origin]?.requests).toBe(2)
    expect(composed.closed).toBe(false)
    await composed.close()
    expect(composed.closed).toBe(true)

    const destroyed = createDispatcher().compose(count.interceptor)
    await destroyed.destroy()
    expect(destroyed.closed).toBe(true)
  })

  it('works as the global dispatcher, through its interceptors, and is borrowed (never closed by restore)', async () => {
    const count = counting()
    const composed = createDispatcher().compose(count.interceptor)
    const installation = installGlobalDispatcher(composed)
    try {
      expect(getGlobalDispatcher()).toBe(composed)
      expect(installation.inPlace).toBe(true)
      await fetch(`${upstream.origin}/composed/global`).then((r) => r.text())
      expect(count.seen).toBe(1)
      expect(composed.stats().requests).toBe(1)
    } finally {
      await installation.restore()
    }
    expect(composed.closed).toBe(false)
    await composed.close()
  })
})
