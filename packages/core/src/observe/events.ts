import diagnosticsChannel from 'node:diagnostics_channel'
import { debuglog } from 'node:util'
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

export interface RetryEvent {
  readonly origin: string
  readonly method: string
  readonly path: string
  /** Idle time of the socket that died. */
  readonly idleMs: number | null
  /** The attempt about to be made, 2-based. */
  readonly attempt: number
  readonly requestId: string | undefined
  readonly error: Error
}

export interface EvictEvent {
  readonly origin: string
  readonly sockets: number
  /** Sockets idle at least this long were closed. */
  readonly minIdleMs: number
  /** `lifetime`: past its age or its request limit (configured, learned or announced by the server). */
  readonly reason: 'stale-failure' | 'idle-limit' | 'lifetime'
}

export interface IdleLimitEvent {
  readonly origin: string
  readonly previousMs: number
  readonly limitMs: number
  readonly reason: 'stale-failure' | 'successful-reuses'
}

/** The subset of a pino / Fastify / bunyan-style logger staleguard uses. */
export interface StaleguardLogger {
  info(fields: object, message: string): void
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

export function reportIdleLimit(event: IdleLimitEvent): void {
  if (channels.idleLimit.hasSubscribers) channels.idleLimit.publish(event)
  debug(
    'idle-limit origin=%s previousMs=%d limitMs=%d reason=%s',
    event.origin,
    event.previousMs,
    event.limitMs,
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
