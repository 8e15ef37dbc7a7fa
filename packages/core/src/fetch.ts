import type { Dispatcher } from 'undici'
import { type StaleguardDispatcher, dispatcherFrom } from './dispatcher.js'
import type { StaleguardOptions } from './options.js'

/** Exactly the global `fetch`, plus the dispatcher it uses (for `stats()` and `close()`). */
export type StaleguardFetch<D extends Dispatcher = StaleguardDispatcher> = typeof globalThis.fetch & {
  readonly dispatcher: D
}

/**
 * A `fetch` with the global signature and return type (the built-in `Response`, so `instanceof Response`
 * holds) that goes through a staleguard dispatcher. An explicit `init.dispatcher` still wins.
 */
export function createFetch(options?: StaleguardOptions): StaleguardFetch
export function createFetch<D extends Dispatcher>(dispatcher: D): StaleguardFetch<D>
export function createFetch(arg?: StaleguardOptions | Dispatcher): StaleguardFetch<Dispatcher> {
  return fetchThrough(dispatcherFrom(arg))
}

/** Binds the global fetch to a dispatcher; the request scope builds its fetch on it too. */
export function fetchThrough<D extends Dispatcher>(dispatcher: D | { dispatch: Dispatcher['dispatch'] }): StaleguardFetch<D> {
  // fetch never mutates init, so the common no-init call reuses one object.
  const plainInit = { dispatcher } as RequestInit
  const staleguardFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (init === undefined) return globalThis.fetch(input, plainInit)
    if ((init as { dispatcher?: unknown }).dispatcher !== undefined) return globalThis.fetch(input, init)
    return globalThis.fetch(input, { ...init, dispatcher } as RequestInit)
  }
  Object.defineProperty(staleguardFetch, 'dispatcher', { value: dispatcher, enumerable: true })
  return staleguardFetch as StaleguardFetch<D>
}

