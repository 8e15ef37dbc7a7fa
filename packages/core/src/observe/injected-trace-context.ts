import diagnosticsChannel from 'node:diagnostics_channel'

/**
 * Trace headers a request scope forwards from the incoming request yield to a tracer that injects its own.
 *
 * An HTTP client instrumentation (`@opentelemetry/instrumentation-undici`, and APM agents built the same way)
 * subscribes to undici's `undici:request:create` channel and appends its client span's `traceparent` to
 * every request with `request.addHeader()`, whether or not the request already carries one. A forwarded
 * incoming `traceparent` would then arrive next to it: two values, which a Node upstream sees joined as
 * `a, b` and a W3C parser rejects, so the trace breaks. Here the scope's copy steps aside for the
 * injector's: it is removed from the request once a later entry of the same name is there, or as soon as one
 * is added. Its `tracestate` goes with it, as W3C Trace Context ties tracestate to the traceparent it came
 * with. Without an injector nothing changes: the forwarded headers are sent as they are.
 *
 * Only the scope's own values are touched, found by value while the scope has calls in flight: a header
 * the caller set is the caller's business, and requests outside a scope are left alone.
 */

const CREATE_CHANNEL = 'undici:request:create'
const TRACEPARENT = 'traceparent'
const TRACESTATE = 'tracestate'

/** The part of undici's request that `undici:request:create` subscribers see and may change. */
interface CreatedRequest {
  headers: unknown
  addHeader?: (name: string, value: string) => unknown
}

/** Headers as a scope forwards them; `from` skips the leading ones that are not trace headers (the request id). */
type ForwardedHeaders = readonly (readonly [lowerName: string, value: string])[]

/** By name (lower case), the values scopes with calls in flight forward, each with how many such scopes. */
const forwarded = new Map<string, Map<string, number>>()
const createChannel = diagnosticsChannel.channel(CREATE_CHANNEL)
let subscribed = false

/**
 * Marks `headers[from…]` as forwarded by a scope whose call is about to be dispatched, and returns true if
 * it did: the caller must then {@link releaseForwardedTraceHeaders} them once its calls are over. Nothing is
 * marked (and nothing runs per request) while no one listens on `undici:request:create`: then no one injects.
 */
export function holdForwardedTraceHeaders(headers: ForwardedHeaders, from = 0): boolean {
  if (headers.length <= from) return false
  if (!subscribed) {
    // Before our own subscription, `hasSubscribers` tells whether anyone else (an instrumentation) listens.
    if (!createChannel.hasSubscribers) return false
    diagnosticsChannel.subscribe(CREATE_CHANNEL, onRequestCreated)
    subscribed = true
  }
  for (let i = from; i < headers.length; i++) {
    const [name, value] = headers[i]!
    let values = forwarded.get(name)
    if (values === undefined) forwarded.set(name, (values = new Map()))
    values.set(value, (values.get(value) ?? 0) + 1)
  }
  return true
}

/** Undoes one {@link holdForwardedTraceHeaders} that returned true. */
export function releaseForwardedTraceHeaders(headers: ForwardedHeaders, from = 0): void {
  for (let i = from; i < headers.length; i++) {
    const [name, value] = headers[i]!
    const values = forwarded.get(name)
    const count = (values?.get(value) ?? 0) - 1
    if (count > 0) values!.set(value, count)
    else if (values?.delete(value) && values.size === 0) forwarded.delete(name)
  }
}

/** Index (of the name, in undici's flat `[name, value, …]` list) of each header a scope forwarded, by name. */
function forwardedEntries(headers: unknown[]): Map<string, number> | null {
  let found: Map<string, number> | null = null
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]
    const value = headers[i + 1]
    if (typeof name !== 'string' || typeof value !== 'string') continue
    const lower = name.toLowerCase()
    if (forwarded.get(lower)?.has(value) && !found?.has(lower)) (found ??= new Map()).set(lower, i)
  }
  return found
}

/** Whether an entry named `lowerName` follows index `after`: an injector's, appended after the request's own. */
function laterEntry(headers: unknown[], lowerName: string, after: number): boolean {
  for (let i = after + 2; i + 1 < headers.length; i += 2) {
    const name = headers[i]
    if (typeof name === 'string' && name.toLowerCase() === lowerName) return true
  }
  return false
}

/** Removes the scope's entry of `lowerName`, if still there; with a traceparent, the tracestate it came with. */
function yieldEntry(headers: unknown[], lowerName: string): void {
  for (const name of lowerName === TRACEPARENT ? [TRACEPARENT, TRACESTATE] : [lowerName]) {
    const index = forwardedEntries(headers)?.get(name)
    if (index !== undefined) headers.splice(index, 2)
  }
}

function onRequestCreated(message: unknown): void {
  if (forwarded.size === 0) return
  const request = (message as { request?: CreatedRequest } | undefined)?.request
  // undici 6 and 7 keep a request's headers as a flat list; undici 5's string is left alone.
  const headers = request?.headers
  if (request === undefined || !Array.isArray(headers)) return
  const ours = forwardedEntries(headers)
  if (ours === null) return
  // Injectors subscribed before this one have already appended theirs, after the request's own headers.
  for (const name of ours.keys()) {
    const index = forwardedEntries(headers)?.get(name)
    if (index !== undefined && laterEntry(headers, name, index)) yieldEntry(headers, name)
  }
  // Injectors subscribed after this one add theirs through addHeader: wrapped on this request only.
  const add = request.addHeader
  if (typeof add !== 'function' || forwardedEntries(headers) === null) return
  request.addHeader = function addHeaderYielding(this: CreatedRequest, name: string, value: string): unknown {
    if (typeof name === 'string' && Array.isArray(this.headers)) yieldEntry(this.headers, name.toLowerCase())
    return add.call(this, name, value)
  }
}
