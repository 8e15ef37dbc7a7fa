import type { Dispatcher } from 'undici'
import { type StaleguardDispatcher, dispatcherFrom } from '../dispatch/staleguard-dispatcher.js'
import type { StaleguardOptions } from '../config/options.js'

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
  const dispatcher: object = dispatcherFrom(arg)
  // fetch never mutates init, so the common no-init call reuses one object.
  const plainInit = { dispatcher } as RequestInit
  const staleguardFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    fetchVia(dispatcher, plainInit, input, init)
  Object.defineProperty(staleguardFetch, 'dispatcher', { value: dispatcher, enumerable: true })
  return staleguardFetch as unknown as StaleguardFetch<Dispatcher>
}

/**
 * The rule of every staleguard fetch (`createFetch`, a request scope's): the global fetch through
 * `dispatcher`, unless the caller's `init` names its own. `plainInit` is `{ dispatcher }`, made once by the
 * caller and reused for calls without init.
 */
export function fetchVia(
  dispatcher: object,
  plainInit: RequestInit,
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<Response> {
  if (init === undefined) return globalThis.fetch(input, plainInit)
  if ((init as { dispatcher?: unknown }).dispatcher !== undefined) return globalThis.fetch(input, init)
  return globalThis.fetch(input, { ...init, dispatcher } as RequestInit)
}
