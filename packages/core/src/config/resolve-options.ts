import { INTERMEDIARIES, INTERMEDIARY_IDLE_TIMEOUTS, type Intermediary, idleLimitBelow } from './intermediaries.js'
import {
  IDEMPOTENT_METHODS,
  type OriginOptions,
  type ResolvedOriginOptions,
  type ResolvedRetry,
  type RetryOptions,
  type StaleguardOptions,
  StaleguardOptionError,
} from './options.js'
import { suggestOption } from './suggest-option.js'

// From the options a user wrote to the settings one origin runs with: every value checked against its range
// (a bad option fails at boot, naming itself), defaults filled in, an origin's overrides on top.

const DEFAULT_KEEP_ALIVE_TIMEOUT = 4_000
/** Node's own fetch offers HTTP/2 from undici 8 (Node 26) on: the default that keeps the protocol as it was. */
const RUNTIME_FETCH_NEGOTIATES_H2 = Number(process.versions.undici?.split('.')[0] ?? 0) >= 8
const MAX_IDLE_MS = 3_600_000
/** A name that moves is followed within this (plus the time its old connections take to finish). */
const DEFAULT_DNS_REFRESH_MS = 10_000
const ORIGIN_KEYS = new Set<string>([
  'keepAliveTimeout',
  'keepAliveMaxTimeout',
  'upstreamIdleTimeout',
  'upstream',
  'connections',
  'retry',
  'learnIdleLimit',
  'protectUnreplayable',
  'allowH2',
  'maxConnectionAge',
  'maxRequestsPerConnection',
  'dnsRefreshInterval',
  'headersTimeout',
  'bodyTimeout',
  'connect',
])
const RETRY_KEYS = new Set(['maxRetries', 'methods', 'budget', 'maxReplayBodyBytes'])
const BUDGET_KEYS = new Set(['ratio', 'minRetries', 'windowMs'])

/** Validates everything up front, so a bad option fails at boot and not on the first request to an origin. */
export function validateOptions(options: StaleguardOptions | undefined, ownKeys: readonly string[] = []): void {
  const global = options ?? {}
  // An adapter's own keys sit beside core's: allowed here, and listed with them when a key is unknown.
  checkObject('options', global, new Set([...ORIGIN_KEYS, 'origins', 'proxy', 'inherit', ...ownKeys]))
  if (global.inherit !== undefined && typeof global.inherit !== 'boolean')
    throw new StaleguardOptionError('inherit', 'must be true or false', global.inherit)
  resolveOriginOptions(global, undefined)
  if (global.origins === undefined) return
  checkObject('origins', global.origins, undefined)
  for (const key of Object.keys(global.origins)) {
    normalizeOriginKey(key)
    checkObject(`origins['${key}']`, global.origins[key], ORIGIN_KEYS)
    resolveOriginOptions(global, key)
  }
}

/** `https://api.example/` and `https://API.example:443` name the same pool. */
export function normalizeOriginKey(key: string | URL): string {
  try {
    return new URL(String(key)).origin
  } catch {
    throw new StaleguardOptionError('origins', 'keys must be absolute URLs such as https://api.example.com', key)
  }
}

/** The options that apply to one origin: the global ones with that origin's overrides on top. */
export function resolveOriginOptions(options: StaleguardOptions, originKey: string | undefined): ResolvedOriginOptions {
  let override: OriginOptions | undefined
  let prefix = ''
  if (originKey !== undefined && options.origins) {
    for (const key of Object.keys(options.origins)) {
      if (normalizeOriginKey(key) === originKey) {
        override = options.origins[key]
        prefix = `origins['${key}'].`
      }
    }
  }
  const pick = <K extends keyof OriginOptions>(name: K): [OriginOptions[K], string] =>
    override && override[name] !== undefined ? [override[name], prefix + name] : [options[name], name]

  const [upstreamIdle, upstreamIdleName] = pick('upstreamIdleTimeout')
  const [upstream, upstreamName] = pick('upstream')
  const pathLimit = shortestPathIdle(upstreamIdle, upstreamIdleName, upstream, upstreamName)

  const [explicitIdle, idleName] = pick('keepAliveTimeout')
  let keepAliveTimeout: number
  if (explicitIdle === undefined) {
    keepAliveTimeout = pathLimit === null ? DEFAULT_KEEP_ALIVE_TIMEOUT : idleLimitBelow(pathLimit)
  } else {
    keepAliveTimeout = checkInteger(idleName, explicitIdle, 1, MAX_IDLE_MS, 'ms')
    if (pathLimit !== null && keepAliveTimeout >= pathLimit) {
      throw new StaleguardOptionError(
        idleName,
        `must be below the upstream idle timeout of ${pathLimit} ms, or a hop closes sockets before the client retires them`,
        explicitIdle,
      )
    }
  }

  const [explicitMax, maxName] = pick('keepAliveMaxTimeout')
  let keepAliveMaxTimeout = keepAliveTimeout
  if (explicitMax !== undefined) {
    const upper = pathLimit === null ? MAX_IDLE_MS : pathLimit - 1
    keepAliveMaxTimeout = checkInteger(
      maxName,
      explicitMax,
      keepAliveTimeout,
      upper,
      'ms (from keepAliveTimeout up to below the upstream idle timeout)',
    )
  }

  const [connections, connectionsName] = pick('connections')
  const [learn, learnName] = pick('learnIdleLimit')
  if (learn !== undefined && typeof learn !== 'boolean')
    throw new StaleguardOptionError(learnName, 'must be true or false', learn)
  const [protect, protectName] = pick('protectUnreplayable')
  if (protect !== undefined && typeof protect !== 'boolean')
    throw new StaleguardOptionError(protectName, 'must be true or false', protect)
  const [allowH2, allowH2Name] = pick('allowH2')
  if (allowH2 !== undefined && typeof allowH2 !== 'boolean')
    throw new StaleguardOptionError(allowH2Name, 'must be true or false', allowH2)
  const [maxAge, maxAgeName] = pick('maxConnectionAge')
  const [maxRequests, maxRequestsName] = pick('maxRequestsPerConnection')
  const [dnsRefresh, dnsRefreshName] = pick('dnsRefreshInterval')
  const [headersTimeout, headersName] = pick('headersTimeout')
  const [bodyTimeout, bodyName] = pick('bodyTimeout')
  const [connect, connectName] = pick('connect')
  if (connect !== undefined && (typeof connect !== 'object' || connect === null)) {
    throw new StaleguardOptionError(connectName, 'must be an object of undici connector options', connect)
  }

  return {
    keepAliveTimeout,
    keepAliveMaxTimeout,
    upstreamIdleTimeout: pathLimit,
    connections: connections === undefined ? null : checkInteger(connectionsName, connections, 1, 65_535, 'sockets'),
    retry: resolveRetry(options.retry, override?.retry, prefix),
    learnIdleLimit: learn ?? true,
    protectUnreplayable: protect ?? true,
    allowH2: allowH2 ?? RUNTIME_FETCH_NEGOTIATES_H2,
    maxConnectionAge: maxAge === undefined ? null : checkInteger(maxAgeName, maxAge, 100, 86_400_000, 'ms'),
    maxRequestsPerConnection:
      maxRequests === undefined
        ? null
        : checkInteger(maxRequestsName, maxRequests, 1, 1_000_000_000, 'requests per connection'),
    dnsRefreshInterval:
      dnsRefresh === false
        ? null
        : dnsRefresh === undefined
          ? DEFAULT_DNS_REFRESH_MS
          : checkInteger(dnsRefreshName, dnsRefresh, 100, 86_400_000, 'ms, or false'),
    headersTimeout:
      headersTimeout === undefined ? undefined : checkInteger(headersName, headersTimeout, 0, MAX_IDLE_MS, 'ms'),
    bodyTimeout: bodyTimeout === undefined ? undefined : checkInteger(bodyName, bodyTimeout, 0, MAX_IDLE_MS, 'ms'),
    connect,
  }
}

function shortestPathIdle(
  upstreamIdle: number | undefined,
  upstreamIdleName: string,
  upstream: Intermediary | readonly Intermediary[] | undefined,
  upstreamName: string,
): number | null {
  const limits: number[] = []
  if (upstreamIdle !== undefined) limits.push(checkInteger(upstreamIdleName, upstreamIdle, 100, 86_400_000, 'ms'))
  if (upstream !== undefined) {
    const hops = typeof upstream === 'string' ? [upstream] : upstream
    if (!Array.isArray(hops) || hops.length === 0) {
      throw new StaleguardOptionError(
        upstreamName,
        `must be one of ${INTERMEDIARIES.join(', ')}, or a non-empty array of them`,
        upstream,
      )
    }
    for (const hop of hops) {
      if (!Object.hasOwn(INTERMEDIARY_IDLE_TIMEOUTS, hop)) {
        throw new StaleguardOptionError(upstreamName, `must name known hops: ${INTERMEDIARIES.join(', ')}`, hop)
      }
      limits.push(INTERMEDIARY_IDLE_TIMEOUTS[hop as Intermediary].idleTimeoutMs)
    }
  }
  return limits.length === 0 ? null : Math.min(...limits)
}

function resolveRetry(
  global: false | RetryOptions | undefined,
  local: false | RetryOptions | undefined,
  prefix: string,
): ResolvedRetry | null {
  const chosen = local !== undefined ? local : global
  const name = local !== undefined ? `${prefix}retry` : 'retry'
  if (chosen === false) return null
  if (chosen !== undefined) checkObject(name, chosen, RETRY_KEYS)
  // An origin's retry object refines the global one rather than resetting unspecified fields.
  const merged: RetryOptions = { ...(global || {}), ...(chosen || {}) }
  const methods = merged.methods ?? IDEMPOTENT_METHODS
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string' || m.length === 0)) {
    throw new StaleguardOptionError(`${name}.methods`, 'must be an array of HTTP method names', methods)
  }
  const budget = merged.budget
  if (budget !== undefined && budget !== false) checkObject(`${name}.budget`, budget, BUDGET_KEYS)
  return {
    maxRetries:
      merged.maxRetries === undefined ? 1 : checkInteger(`${name}.maxRetries`, merged.maxRetries, 1, 3, 'retries'),
    methods: new Set(methods.map((m) => m.toUpperCase())),
    budget:
      budget === false
        ? null
        : {
            ratio: budget?.ratio === undefined ? 0.2 : checkNumber(`${name}.budget.ratio`, budget.ratio, 0, 1),
            minRetries:
              budget?.minRetries === undefined
                ? 10
                : checkInteger(`${name}.budget.minRetries`, budget.minRetries, 0, 10_000, 'retries'),
            windowMs:
              budget?.windowMs === undefined
                ? 10_000
                : checkInteger(`${name}.budget.windowMs`, budget.windowMs, 1_000, 3_600_000, 'ms'),
          },
    maxReplayBodyBytes:
      merged.maxReplayBodyBytes === undefined
        ? 8 * 1024 * 1024
        : checkInteger(`${name}.maxReplayBodyBytes`, merged.maxReplayBodyBytes, 0, 1024 * 1024 * 1024, 'bytes'),
  }
}

/** Checks that `value` is a plain object whose keys are all in `allowed`, naming a close one for a typo. */
export function checkObject(name: string, value: unknown, allowed: ReadonlySet<string> | undefined): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StaleguardOptionError(name, 'must be an object', value)
  }
  if (!allowed) return
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      const suggestion = suggestOption(key, allowed)
      throw new StaleguardOptionError(
        `${name === 'options' ? '' : `${name}.`}${key}`,
        `is not a staleguard option${suggestion ? `; did you mean ${suggestion}?` : '.'} Known: ${[...allowed].join(', ')}`,
        (value as Record<string, unknown>)[key],
      )
    }
  }
}

function checkInteger(name: string, value: unknown, min: number, max: number, unit: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new StaleguardOptionError(name, `must be an integer from ${min} to ${max} ${unit}`, value)
  }
  return value
}

function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new StaleguardOptionError(name, `must be a number from ${min} to ${max}`, value)
  }
  return value
}
