import type { Dispatcher } from 'undici'
import { getGlobalDispatcher, request as undiciRequest } from '../http/undici.js'
import { isMockAgent } from './global-dispatcher-in-place.js'
import {
  type StaleguardDispatcher,
  createDispatcher,
  dispatcherFrom,
  isScopeAware,
} from '../dispatch/staleguard-dispatcher.js'
import type { StaleguardOptions } from '../config/options.js'

/** `undici.request`'s options, without `dispatcher` (staleguard supplies it). */
export type StaleguardRequestOptions<TOpaque = null> = Omit<
  NonNullable<Parameters<typeof undiciRequest<TOpaque>>[1]>,
  'dispatcher'
>

/** undici's `request` bound to a staleguard dispatcher: same options, same `ResponseData`, without fetch's cost per call (`pnpm bench fast-path`). */
export type StaleguardRequest<D extends Dispatcher = StaleguardDispatcher> = (<TOpaque = null>(
  url: string | URL,
  options?: StaleguardRequestOptions<TOpaque>,
) => Promise<Dispatcher.ResponseData<TOpaque>>) & { readonly dispatcher: D }

/**
 * The fast path: `undici.request` semantics and return type through a staleguard dispatcher, with the same
 * retry rules as fetch (a `Readable` body is a stream and is never replayed; strings and buffers are).
 */
export function createRequest(options?: StaleguardOptions): StaleguardRequest
export function createRequest<D extends Dispatcher>(dispatcher: D): StaleguardRequest<D>
export function createRequest(arg?: StaleguardOptions | Dispatcher): StaleguardRequest<Dispatcher> {
  return requestThrough(dispatcherFrom(arg))
}

export function requestThrough<D extends Dispatcher>(
  dispatcher: D | { dispatch: Dispatcher['dispatch'] },
): StaleguardRequest<D> {
  const bound = <TOpaque = null>(
    url: string | URL,
    options?: StaleguardRequestOptions<TOpaque>,
  ): Promise<Dispatcher.ResponseData<TOpaque>> =>
    undiciRequest<TOpaque>(url, { ...options, dispatcher: dispatcher as Dispatcher })
  Object.defineProperty(bound, 'dispatcher', { value: dispatcher, enumerable: true })
  return bound as StaleguardRequest<D>
}

let fallback: StaleguardDispatcher | null = null

/**
 * `undici.request` that never goes around staleguard: through `options.dispatcher` when given, else the
 * global dispatcher when it is a staleguard one (installGlobalDispatcher) or a MockAgent (a test suite's
 * mocks), else a shared default staleguard dispatcher created on first use (its idle sockets never keep the
 * process alive).
 */
export function request<TOpaque = null>(
  url: string | URL,
  options?: StaleguardRequestOptions<TOpaque> & { dispatcher?: Dispatcher },
): Promise<Dispatcher.ResponseData<TOpaque>> {
  if (options?.dispatcher) return undiciRequest<TOpaque>(url, options)
  const global = getGlobalDispatcher()
  const dispatcher = isScopeAware(global) || isMockAgent(global) ? global : (fallback ??= createDispatcher())
  return undiciRequest<TOpaque>(url, { ...options, dispatcher })
}
