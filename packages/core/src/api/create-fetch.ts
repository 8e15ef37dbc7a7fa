import type { Dispatcher } from 'undici'
import { type StaleguardDispatcher, dispatcherFrom, isScopeAware } from '../dispatch/staleguard-dispatcher.js'
import type { StaleguardOptions } from '../config/options.js'
import { type BodySource, type BodySourceOptions, fetchBodySourceOf, kBodySource } from '../retry/request-safety.js'
import { copyOfOptions } from '../http/options-copy.js'

/** Exactly the global `fetch`, plus the dispatcher it uses (for `stats()` and `close()`). */
export type StaleguardFetch<D extends Dispatcher = StaleguardDispatcher> = typeof globalThis.fetch & {
  readonly dispatcher: D
}

/**
 * The dispatcher fetch is handed for one call, by what the call's body is (undefined: no body, or a
 * `Request`'s, whose source fetch alone knows): fetch turns every body into the same kind of generator, so a
 * staleguard fetch says in the dispatch options what the body stood for.
 */
export type DispatcherForBody = (source: BodySource | undefined) => object

/** Dispatches a call whose body stood for `source`, telling the staleguard dispatcher so. */
export type MarkedDispatch = (
  options: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  source: BodySource,
) => boolean

/**
 * A `fetch` with the global signature and return type (the built-in `Response`, so `instanceof Response`
 * holds) that goes through a staleguard dispatcher. An explicit `init.dispatcher` still wins.
 */
export function createFetch(options?: StaleguardOptions): StaleguardFetch
/**
 * A `fetch` with the global signature that goes through the dispatcher passed in (a staleguard one, composed
 * or not, or any undici dispatcher); it is borrowed, and closing it stays the caller's business.
 */
export function createFetch<D extends Dispatcher>(dispatcher: D): StaleguardFetch<D>
export function createFetch(arg?: StaleguardOptions | Dispatcher): StaleguardFetch<Dispatcher> {
  const dispatcher = dispatcherFrom(arg)
  // fetch never mutates init, so the common no-init call reuses one object.
  const plainInit = { dispatcher: dispatcher as object } as RequestInit
  const dispatcherFor = bodyMarkingDispatchers(dispatcher, dispatcher, dispatchWithBodySource(dispatcher))
  const staleguardFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    fetchVia(dispatcherFor, plainInit, input, init)
  Object.defineProperty(staleguardFetch, 'dispatcher', { value: dispatcher, enumerable: true })
  return staleguardFetch as unknown as StaleguardFetch<Dispatcher>
}

/**
 * For a staleguard dispatcher, one small dispatcher per kind of body (made on first use) that hands the call to
 * `dispatchMarked` with what the body stood for; calls without a body go to `plain`, copy-free. Any other
 * dispatcher is handed to fetch as it is: it would not read the fact, and fetch reads more of it than
 * `dispatch` (a MockAgent's `isMockActive`). `createFetch` and a request scope's fetch both choose this way.
 */
export function bodyMarkingDispatchers(
  plain: object,
  target: Dispatcher,
  dispatchMarked: MarkedDispatch,
): DispatcherForBody {
  if (!isScopeAware(target)) return () => plain
  const marking: Partial<Record<BodySource, object>> = {}
  return (source) => {
    if (source === undefined) return plain
    return (marking[source] ??= {
      dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean =>
        dispatchMarked(options, handler, source),
    })
  }
}

/** The staleguard dispatcher's own marking: a copy of the options that says what the body stood for. */
function dispatchWithBodySource(dispatcher: Dispatcher): MarkedDispatch {
  return (options, handler, source) => {
    const marked: Dispatcher.DispatchOptions & BodySourceOptions = copyOfOptions(options)
    marked[kBodySource] = source
    return dispatcher.dispatch(marked, handler)
  }
}

/**
 * The rule of every staleguard fetch (`createFetch`, a request scope's): the global fetch through the
 * dispatcher `dispatcherFor` picks for the body, unless the caller's `init` names its own. `plainInit` is
 * `{ dispatcher }`, made once by the caller and reused for calls without init.
 */
export function fetchVia(
  dispatcherFor: DispatcherForBody,
  plainInit: RequestInit,
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<Response> {
  if (init === undefined) return globalThis.fetch(input, plainInit)
  if ((init as { dispatcher?: unknown }).dispatcher !== undefined) return globalThis.fetch(input, init)
  // fetch takes `init.body` over a Request's own; a Request's body alone is judged at the dispatcher.
  const dispatcher = dispatcherFor(fetchBodySourceOf(init.body))
  return globalThis.fetch(input, { ...init, dispatcher } as RequestInit)
}
