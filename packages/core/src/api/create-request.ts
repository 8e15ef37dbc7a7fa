import type { Dispatcher } from 'undici'
import { getGlobalDispatcher, request as undiciRequest } from '../http/undici.js'
import { isMockAgent } from '../inherit/dispatcher-in-place.js'
import {
  type StaleguardDispatcher,
  createDispatcher,
  dispatcherFrom,
  isScopeAware,
} from '../dispatch/staleguard-dispatcher.js'
import type { StaleguardOptions } from '../config/options.js'
import { type BodySourceOptions, kBodySource, requestBodySourceOf } from '../retry/request-safety.js'
import { copyOfOptions } from '../http/options-copy.js'

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
/**
 * The fast path through the dispatcher passed in (a staleguard one, composed or not, or any undici
 * dispatcher); it is borrowed, and closing it stays the caller's business.
 */
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
  ): Promise<Dispatcher.ResponseData<TOpaque>> => {
    try {
      return undiciRequest<TOpaque>(
        url,
        sayingWhatTheBodyIs(options, withDispatcher(options, dispatcher as Dispatcher)),
      )
    } catch (error) {
      throw namingTheUrl(url, error)
    }
  }
  Object.defineProperty(bound, 'dispatcher', { value: dispatcher, enumerable: true })
  return bound as StaleguardRequest<D>
}

/**
 * `sent` (the options handed to undici, a copy of the caller's or theirs as they are), marked when the body
 * is the caller's iterable or web stream: the dispatcher sees it as it is, but could take it for the
 * generator fetch makes of a string. Other bodies the dispatcher judges by what they are, so their calls,
 * most of them, go unmarked and uncopied.
 */
function sayingWhatTheBodyIs<T extends object>(options: { body?: unknown } | undefined, sent: T): T {
  const source = requestBodySourceOf(options?.body)
  if (source === undefined) return sent
  const marked = (sent === options ? copyOfOptions(sent) : sent) as T & BodySourceOptions
  marked[kBodySource] = source
  return marked
}

/** The caller's options (or none) with `dispatcher` set, in a copy. */
function withDispatcher<T extends object>(
  options: T | undefined,
  dispatcher: Dispatcher,
): T & { dispatcher: Dispatcher } {
  const sent = copyOfOptions((options ?? {}) as T) as T & { dispatcher: Dispatcher }
  sent.dispatcher = dispatcher
  return sent
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
  try {
    if (options?.dispatcher) return undiciRequest<TOpaque>(url, sayingWhatTheBodyIs(options, options))
    const global = getGlobalDispatcher()
    const dispatcher = isScopeAware(global) || isMockAgent(global) ? global : (fallback ??= createDispatcher())
    return undiciRequest<TOpaque>(url, sayingWhatTheBodyIs(options, withDispatcher(options, dispatcher)))
  } catch (error) {
    throw namingTheUrl(url, error)
  }
}

/**
 * undici throws a bare `Invalid URL` (synchronously, as here) for a URL it cannot send to; this says which
 * URL and why. Looked at only once undici has thrown, so a call that goes out costs nothing more.
 */
function namingTheUrl(url: unknown, error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  const aboutUrl = code === 'ERR_INVALID_URL' || (code === 'UND_ERR_INVALID_ARG' && /\burl\b/i.test(String(message)))
  if (!aboutUrl) return error
  let why: string
  if (typeof url !== 'string' && !(url instanceof URL)) why = 'the URL must be a string or a URL object'
  else if (URL.canParse(String(url))) why = 'only http: and https: URLs can be requested'
  else why = 'it is not an absolute URL; pass one such as https://api.example.com/items'
  const shown =
    typeof url === 'string' || url instanceof URL
      ? JSON.stringify(String(url))
      : typeof url === 'object' && url !== null
        ? 'an object'
        : String(url)
  return Object.assign(new TypeError(`staleguard: cannot request ${shown}: ${why}`, { cause: error }), { code })
}
