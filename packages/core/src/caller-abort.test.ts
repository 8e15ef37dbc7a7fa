import { setImmediate as nextTurn } from 'node:timers/promises'
import { exposeGc, startUpstream } from '@staleguard/lab'
import type { Dispatcher } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDispatcher } from './dispatcher.js'

const gc = exposeGc()

describe('the abort function a caller keeps', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  beforeAll(async () => {
    upstream = await startUpstream()
  })
  afterAll(() => upstream.close())

  // fetch keeps the abort function it is handed on its controller, which its Response keeps until a full
  // collection: whatever that function reaches outlives every young-generation collection, on every request.
  it('no longer reaches the request once it is over: its options and headers can be collected', async () => {
    const dispatcher = createDispatcher()
    let callerAbort: ((reason?: Error) => void) | undefined
    let optionsRef: WeakRef<object> | undefined
    await new Promise<void>((resolve, reject) => {
      const options: Dispatcher.DispatchOptions = { origin: upstream.origin, path: '/kept', method: 'GET', headers: { 'x-probe': '1' } }
      optionsRef = new WeakRef(options)
      dispatcher.dispatch(options, {
        onConnect(abort: (reason?: Error) => void) {
          callerAbort = abort
        },
        onHeaders: () => true,
        onData: () => true,
        onComplete: () => resolve(),
        onError: reject,
      } as Dispatcher.DispatchHandler)
    })
    // A WeakRef holds its target until the current job ends; then a full collection may clear it.
    await nextTurn()
    gc()
    await nextTurn()
    gc()
    expect(optionsRef?.deref()).toBeUndefined()
    // Still callable, and harmless: the request is over.
    expect(() => callerAbort?.(new Error('late'))).not.toThrow()
    expect(dispatcher.stats().failedRequests).toBe(0)
    await dispatcher.close()
  })
})
