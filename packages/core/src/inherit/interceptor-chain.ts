import type { Dispatcher } from 'undici'
import { symbolNamed } from '../http/undici-internals.js'

type Dispatch = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => boolean

/**
 * The interceptors an app composed on its global dispatcher (`agent.compose(interceptors.dns(), …)`) are closures
 * in the chain `compose()` built: they cannot be read out and composed again. What can be done is to keep the
 * chain and move what is at its end: the chain ends in the Agent's own `dispatch`, which hands each request to
 * the Agent's internal `[kDispatch]`. staleguard sets that, on the Agent alone, to its own dispatcher, so every
 * request through the chain (the interceptors in their order, then the Agent's checks) reaches staleguard's
 * pools. `undo()` gives the Agent its own back.
 */
export interface KeptChain {
  /** The app's chain: its interceptors, then (once rerouted) staleguard. */
  readonly dispatch: Dispatch
  /** Puts the Agent's own dispatch back. */
  undo(): void
}

/** Reroutes the end of a composed dispatcher's chain to `to`; null when the dispatcher has no `[kDispatch]`. */
export function keepChain(composed: object, to: Dispatch): KeptChain | null {
  const key = symbolNamed(composed, 'dispatch')
  if (key === undefined) return null
  const fields = composed as Record<symbol, unknown>
  // Set through compose()'s Proxy, which has no `set` trap: the property lands on the Agent itself.
  fields[key] = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) =>
    to(withoutDispatcherOption(options), handler)
  const chain = (composed as { dispatch: Dispatch }).dispatch
  return {
    // undici 8's dispatchers refuse options that name a `dispatcher` (undici 7's `request()` leaves it in).
    dispatch: (options, handler) => chain(withoutDispatcherOption(options), handler),
    undo: () => {
      delete fields[key]
    },
  }
}

function withoutDispatcherOption(options: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
  if ((options as { dispatcher?: unknown }).dispatcher === undefined) return options
  const { dispatcher: _dispatcher, ...rest } = options as Dispatcher.DispatchOptions & { dispatcher?: unknown }
  return rest
}
