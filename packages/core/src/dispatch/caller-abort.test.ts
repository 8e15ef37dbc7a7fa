import { setImmediate as nextTurn } from 'node:timers/promises'
import { exposeGc } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import type { Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { createDispatcher } from './staleguard-dispatcher.js'

const gc = exposeGc()

describe('the abort function a caller keeps', () => {
  const upstream = useUpstream()

  // fetch keeps the abort function it is handed on its controller, which its Response keeps until a full
  // collection: whatever that function reaches outlives every young-generation collection, on every request.
  it('no longer reaches the request once it is over: its options and headers can be collected', async () => {
    const dispatcher = createDispatcher()
    let callerAbort: ((reason?: Error) => void) | undefined
    // Made in a function of its own, so no variable of this test holds the options themselves.
    const optionsRef = await dispatchOnce(dispatcher, upstream.origin, (abort) => {
      callerAbort = abort
    })
    // A WeakRef holds its target until the current job ends; then a full collection may clear it.
    await nextTurn()
    gc()
    await nextTurn()
    gc()
    expect(optionsRef.deref()).toBeUndefined()
    // Still callable, and harmless: the request is over.
    expect(callerAbort).toBeTypeOf('function')
    expect(() => callerAbort!(new Error('late'))).not.toThrow()
    expect(dispatcher.stats().failedRequests).toBe(0)
    await dispatcher.close()
  })
})

/** One GET through `dispatcher`, handing its abort function to `keepAbort`; resolves with a WeakRef to its options once it completes. */
function dispatchOnce(
  dispatcher: Dispatcher,
  origin: string,
  keepAbort: (abort: (reason?: Error) => void) => void,
): Promise<WeakRef<object>> {
  const options: Dispatcher.DispatchOptions = { origin, path: '/kept', method: 'GET', headers: { 'x-probe': '1' } }
  const optionsRef = new WeakRef(options)
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, {
      onConnect: keepAbort,
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => resolve(optionsRef),
      onError: reject,
    } as Dispatcher.DispatchHandler)
  })
}
