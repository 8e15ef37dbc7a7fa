import { copyOfOptions } from './options-copy.js'

/**
 * Reading and adding request headers in every shape undici accepts for `dispatch(opts)`: a plain object
 * (fetch passes one), a flat `[name, value, name, value]` array, or an iterable of `[name, value]` pairs.
 */
export type DispatchHeaders =
  | Record<string, string | string[] | undefined>
  | (string | string[] | Buffer)[]
  | Iterable<[string, string | string[] | undefined]>
  | null
  | undefined

function headerValueText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (Array.isArray(value)) return value.map(String).join(', ')
  return String(value)
}

/** Whether a header name a caller wrote is `lowerName`, whatever its case. `lowerName` must be lower case. */
function isHeaderName(name: unknown, lowerName: string): boolean {
  if (name === lowerName) return true
  const text = String(name)
  return text.length === lowerName.length && text.toLowerCase() === lowerName
}

/**
 * The value of one header (case-insensitive), or undefined. `lowerName` must be lower case. Of an object, only
 * own names count, as undici sends only those: an inherited Idempotency-Key never reaches the upstream.
 */
export function readHeader(headers: DispatchHeaders, lowerName: string): string | undefined {
  if (!headers) return undefined
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (isHeaderName(headers[i], lowerName)) return headerValueText(headers[i + 1])
    }
    return undefined
  }
  if (isPairIterable(headers)) {
    for (const [name, value] of headers) {
      if (isHeaderName(name, lowerName)) return headerValueText(value)
    }
    return undefined
  }
  const record = headers as Record<string, unknown>
  const name = ownHeaderName(record, lowerName)
  return name === undefined ? undefined : headerValueText(record[name])
}

/** The caller's own spelling of a header in an object, skipping names set to undefined (undici sends neither). */
function ownHeaderName(record: Record<string, unknown>, lowerName: string): string | undefined {
  for (const name of Object.keys(record)) {
    if (isHeaderName(name, lowerName) && record[name] !== undefined) return name
  }
  return undefined
}

/**
 * Headers with `additions` appended, leaving the caller's own value in place when the caller already set
 * that header. Returns the input untouched when nothing is added.
 */
export function withHeadersIfAbsent(
  headers: DispatchHeaders,
  additions: readonly (readonly [lowerName: string, value: string])[],
): DispatchHeaders {
  if (!headers) return Object.fromEntries(additions)
  if (!Array.isArray(headers) && !isPairIterable(headers))
    return withObjectHeadersIfAbsent(headers as Record<string, string | string[] | undefined>, additions)
  const missing = additions.filter(([name]) => readHeader(headers, name) === undefined)
  if (missing.length === 0) return headers
  if (Array.isArray(headers)) return [...headers, ...missing.flat()]
  return [...flattenPairs(headers as Iterable<[string, string | string[] | undefined]>), ...missing.flat()]
}

/**
 * The same headers as {@link withHeadersIfAbsent}, always as one flat `[name, value, …]` list: what the
 * scope hands to a staleguard dispatcher. fetch passes its headers as a plain object; a copy of that object
 * with one more property is a full copy that undici then lists the keys of, while a flat list is smaller and
 * undici reads it without listing keys (bench/README.md, "Profile").
 */
export function flatHeadersIfAbsent(
  headers: DispatchHeaders,
  additions: readonly (readonly [lowerName: string, value: string])[],
): (string | string[] | Buffer)[] {
  if (Array.isArray(headers) || (headers && isPairIterable(headers))) {
    const merged = withHeadersIfAbsent(headers, additions)
    return Array.isArray(merged) ? merged : flattenPairs(merged as Iterable<[string, string | string[] | undefined]>)
  }
  const flat: (string | string[])[] = []
  let found: boolean[] | null = null
  const record = (headers ?? {}) as Record<string, string | string[] | undefined>
  for (const name in record) {
    const value = record[name]
    // undici reads an object's own keys and skips undefined values.
    if (value === undefined || !Object.hasOwn(record, name)) continue
    flat.push(name, value)
    for (let i = 0; i < additions.length; i++) {
      if (isHeaderName(name, additions[i]![0])) (found ??= [])[i] = true
    }
  }
  for (let i = 0; i < additions.length; i++) {
    if (found?.[i] !== true) flat.push(additions[i]![0], additions[i]![1])
  }
  return flat
}

/** fetch's shape, on every scoped call: one pass over the caller's names, one copy. */
function withObjectHeadersIfAbsent(
  headers: Record<string, string | string[] | undefined>,
  additions: readonly (readonly [lowerName: string, value: string])[],
): DispatchHeaders {
  let merged: Record<string, string | string[] | undefined> | null = null
  for (const [name, value] of additions) {
    if (ownHeaderName(headers, name) !== undefined) continue
    merged ??= copyOfOptions(headers)
    merged[name] = value
  }
  return merged ?? headers
}

function isPairIterable(headers: object): headers is Iterable<[string, string | string[] | undefined]> {
  return typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function'
}

function flattenPairs(pairs: Iterable<[string, string | string[] | undefined]>): (string | string[])[] {
  const flat: (string | string[])[] = []
  for (const [name, value] of pairs) {
    if (value !== undefined) flat.push(name, value)
  }
  return flat
}
