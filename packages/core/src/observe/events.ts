import diagnosticsChannel from 'node:diagnostics_channel'
import { debuglog } from 'node:util'
import type { RetryDecision } from '../retry/retry-decision.js'
import type { StaleguardDiagnostics } from './diagnostics.js'

/**
 * Everything staleguard does that an operator may want to see goes out through here, once: to
 * `NODE_DEBUG=staleguard`, to diagnostics_channel subscribers (APMs), and to the logger of the request
 * scope when a framework adapter supplied one. Nothing is printed otherwise.
 */
export const STALEGUARD_CHANNELS = {
  /** A request failed on a stale socket, or failed for good (payload: {@link StaleFailureEvent}). */
  stale: 'staleguard:stale',
  /** A stale failure is being retried on a new connection ({@link RetryEvent}). */
  retry: 'staleguard:retry',
  /** Idle sockets were closed before a hop could kill them ({@link EvictEvent}). */
  evict: 'staleguard:evict',
  /** An origin's learned idle limit changed ({@link IdleLimitEvent}). */
  idleLimit: 'staleguard:idle-limit',
} as const

/** What the handler knows when an attempt fails; the diagnostics and the stale event are cut from it. */
export type StaleFailureFacts = Omit<StaleguardDiagnostics, 'explanation'> & { readonly error: Error }

/**
 * Payload of `staleguard:stale`: the fields of the failure's diagnostics (see {@link StaleguardDiagnostics})
 * and the error. `retryDecision` is `retried` when a retry follows (see `staleguard:retry`); anything else
 * means the caller gets the error.
 */
export type StaleFailureEvent = Omit<StaleFailureFacts, 'staleSocketError'>

/** Payload of `staleguard:retry`, published as the retry is sent on a new connection. */
export interface RetryEvent {
  /** The origin the request goes to (`https://api.example.com`). */
  readonly origin: string
  /** The request's method. */
  readonly method: string
  /** The request's path and query. */
  readonly path: string
  /** Idle time of the socket that died. */
  readonly idleMs: number | null
  /** The attempt about to be made, 2-based. */
  readonly attempt: number
  /** The incoming request's id, when the call came through a framework adapter. */
  readonly requestId: string | undefined
  /** The error the stale socket produced (`ECONNRESET`, `UND_ERR_SOCKET`, …). */
  readonly error: Error
}

/** Payload of `staleguard:evict`: idle sockets of one origin closed by staleguard before a hop could kill them. */
export interface EvictEvent {
  /** The origin whose sockets were closed. */
  readonly origin: string
  /** How many sockets were closed. */
  readonly sockets: number
  /** Sockets idle at least this long were closed. */
  readonly minIdleMs: number
  /**
   * `lifetime`: past its age or its request limit (configured, learned or announced by the server).
   * `unreplayable-request`: idle longer than the origin has proven safe, closed so that a request that cannot
   * be replayed goes out on a new connection in its place (see {@link UnreplayableRequestEvent}).
   * `address-gone`: connected to an address the origin's name no longer resolves to (`dnsRefreshInterval`).
   * `scouted`: a node:http agent's socket idle longer than proven, closed so that a request goes out on a new
   * connection in its place while another request tests such sockets (the agents' scout).
   */
  readonly reason: 'stale-failure' | 'idle-limit' | 'lifetime' | 'unreplayable-request' | 'address-gone' | 'scouted'
}

/** Payload of `staleguard:idle-limit`: the idle limit an origin's sockets are retired after changed. */
export interface IdleLimitEvent {
  /** The origin whose limit changed. */
  readonly origin: string
  /** The limit in force before, ms. */
  readonly previousMs: number
  /** The limit in force now, ms: never above the configured one. */
  readonly limitMs: number
  /**
   * `stale-failure`: lowered to just below (10 % under) the shortest idle time after which a socket died;
   * `successful-reuses`: raised again (in 25 % steps) once failures are five minutes old and reuses after long
   * idle times keep succeeding; `incident`: put back to what it was before an incident (a restart, a crash, a
   * failover: many connections dying at once, or the origin refusing connections) that taught it.
   */
  readonly reason: 'stale-failure' | 'successful-reuses' | 'incident'
}

/** The subset of a pino / Fastify / bunyan-style logger staleguard uses. */
export interface StaleguardLogger {
  /** Retries that were sent: `fields` holds a `staleguard` object (origin, method, path, attempt, …). */
  info(fields: object, message: string): void
  /** Failures the caller will see, with their explanation as the message and the error as `err`. */
  warn(fields: object, message: string): void
}

const debug = debuglog('staleguard')
const channels = {
  stale: diagnosticsChannel.channel(STALEGUARD_CHANNELS.stale),
  retry: diagnosticsChannel.channel(STALEGUARD_CHANNELS.retry),
  evict: diagnosticsChannel.channel(STALEGUARD_CHANNELS.evict),
  idleLimit: diagnosticsChannel.channel(STALEGUARD_CHANNELS.idleLimit),
}

const ms = (value: number | null): string => (value === null ? '?' : String(Math.round(value)))

/**
 * One stale failure: every attempt that died on a stale-looking socket, whether a retry follows or not.
 * Only a failure the caller will see goes to the request's logger, as a warning with its explanation.
 */
export function reportStaleFailure(
  facts: StaleFailureFacts,
  logger: StaleguardLogger | undefined,
  explanation: string | null,
): void {
  const { staleSocketError: _shape, ...event }: StaleFailureFacts = facts
  if (channels.stale.hasSubscribers) channels.stale.publish(event)
  debug(
    'stale origin=%s %s %s reused=%s idleMs=%s attempt=%d decision=%s code=%s',
    event.origin,
    event.method,
    event.path,
    event.reused,
    ms(event.idleMs),
    event.attempt,
    event.retryDecision,
    errorCode(event.error),
  )
  if (explanation !== null && logger)
    safely(() => logger.warn({ staleguard: fields(event), err: event.error }, explanation))
}

export function reportRetry(event: RetryEvent, logger: StaleguardLogger | undefined): void {
  if (channels.retry.hasSubscribers) channels.retry.publish(event)
  debug(
    'retry origin=%s %s %s idleMs=%s attempt=%d code=%s',
    event.origin,
    event.method,
    event.path,
    ms(event.idleMs),
    event.attempt,
    errorCode(event.error),
  )
  if (logger) {
    const message = `staleguard: ${event.method} ${event.origin}${event.path} hit a stale keep-alive socket (idle ${ms(event.idleMs)} ms); retrying on a new connection`
    safely(() => logger.info({ staleguard: fields(event) }, message))
  }
}

/**
 * How a retry ended, for `NODE_DEBUG=staleguard` only: the `retry` line is written when the retry is sent,
 * this one when its response arrives (`statusCode`) or it fails too (`error`, and what was decided then).
 */
export type RetryOutcome = {
  readonly origin: string
  readonly method: string
  readonly path: string
  /** The retry's attempt, 2-based. */
  readonly attempt: number
} & ({ readonly statusCode: number } | { readonly error: Error; readonly retryDecision: RetryDecision })

export function reportRetryOutcome(outcome: RetryOutcome): void {
  if ('statusCode' in outcome) {
    debug(
      'retry origin=%s %s %s attempt=%d succeeded: status=%d',
      outcome.origin,
      outcome.method,
      outcome.path,
      outcome.attempt,
      outcome.statusCode,
    )
  } else {
    debug(
      'retry origin=%s %s %s attempt=%d failed: code=%s decision=%s',
      outcome.origin,
      outcome.method,
      outcome.path,
      outcome.attempt,
      errorCode(outcome.error),
      outcome.retryDecision,
    )
  }
}

export function reportEviction(event: EvictEvent): void {
  if (channels.evict.hasSubscribers) channels.evict.publish(event)
  debug(
    'evict origin=%s sockets=%d minIdleMs=%s reason=%s',
    event.origin,
    event.sockets,
    ms(event.minIdleMs),
    event.reason,
  )
}

/**
 * A request that cannot be replayed (no Idempotency-Key on a method not safe to send twice, or a stream
 * body) was sent on a new connection: the origin's idle sockets had been idle longer than it has proven safe.
 */
export interface UnreplayableRequestEvent {
  readonly origin: string
  readonly method: string
  readonly path: string
  /** The longest idle a reused socket of this origin survived, or null before any reuse. */
  readonly provenIdleMs: number | null
  /** Idle sockets idle longer than this were not used for it. */
  readonly affordableIdleMs: number
}

export function reportUnreplayableOnNewConnection(event: UnreplayableRequestEvent): void {
  debug(
    'new-connection origin=%s %s %s provenIdleMs=%s affordableIdleMs=%d (cannot be replayed: not written on a socket idle longer than affordableIdleMs)',
    event.origin,
    event.method,
    event.path,
    event.provenIdleMs === null ? 'none' : ms(event.provenIdleMs),
    event.affordableIdleMs,
  )
}

export function reportIdleLimit(event: IdleLimitEvent): void {
  if (channels.idleLimit.hasSubscribers) channels.idleLimit.publish(event)
  debug(
    'idle-limit origin=%s previousMs=%s limitMs=%s reason=%s',
    event.origin,
    ms(event.previousMs),
    ms(event.limitMs),
    event.reason,
  )
}

function fields(event: StaleFailureEvent | RetryEvent): object {
  const { error: _error, ...rest } = event
  return { ...rest, code: errorCode(event.error) }
}

function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : error.name
}

/** A logger that throws must not leave the request hanging: the event is lost, the request goes on. */
function safely(log: () => void): void {
  try {
    log()
  } catch {
    // Ignored on purpose: logging is never worth a lost request.
  }
}

/**
 * What happened to the global installation, for `NODE_DEBUG=staleguard` only: it stood aside for a dispatcher
 * it must not replace (a MockAgent), or someone installed another dispatcher over it.
 */
export interface InstallationEvent {
  readonly action: 'stood-aside' | 'displaced'
  /** The other dispatcher's class. */
  readonly dispatcher: string
}

export function reportInstallation(event: InstallationEvent): void {
  if (event.action === 'stood-aside') {
    debug('stood aside: the global dispatcher is a %s; requests go to it, not through staleguard', event.dispatcher)
  } else {
    debug(
      "displaced: a %s replaced staleguard as the global dispatcher; Node's fetch no longer goes through it",
      event.dispatcher,
    )
  }
}

/** An origin's connections are found to die after `limit` requests; later ones are retired after that many. */
export interface RequestLimitEvent {
  readonly origin: string
  readonly limit: number
}

export function reportRequestLimit(event: RequestLimitEvent): void {
  debug(
    'request-limit origin=%s limit=%d (connections die after that many requests: retired after them)',
    event.origin,
    event.limit,
  )
}

/** A dispatcher was built over the settings of the one in place (`NODE_DEBUG=staleguard` only). */
export interface InheritanceEvent {
  /** What the settings were read from (`Agent`, `EnvHttpProxyAgent (composed with interceptors)`…). */
  readonly source: string
  /** The settings taken over, by name (`connect.lookup`, `connections`, `maxResponseSize`…). */
  readonly inherited: readonly string[]
  /** Inherited settings the options given to staleguard replaced. */
  readonly overridden: readonly string[]
}

export function reportInheritance(event: InheritanceEvent): void {
  debug(
    'inherited from=%s settings=%s%s',
    event.source,
    event.inherited.length === 0 ? 'none' : event.inherited.join(','),
    event.overridden.length === 0
      ? ''
      : ` overridden=${event.overridden.join(',')} (the options given to staleguard win)`,
  )
}

/** Deaths of one origin's connections were an incident, not a limit: nothing they taught is kept. */
export interface IncidentEvent {
  readonly origin: string
}

export function reportIncident(event: IncidentEvent): void {
  debug(
    'incident origin=%s (connections died together, or the origin refused connections: a restart, a crash, a failover; nothing learned from it)',
    event.origin,
  )
}
