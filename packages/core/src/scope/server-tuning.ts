import type { Server } from 'node:http'
import { type Intermediary, INTERMEDIARIES, INTERMEDIARY_IDLE_TIMEOUTS } from '../config/intermediaries.js'
import { StaleguardOptionError } from '../config/options.js'

/**
 * The other half of the pairing. Behind a load balancer, the app's own server must keep idle connections
 * open *longer* than the balancer does, or the balancer reuses a connection the server just closed and
 * answers 502 (AWS ALB's documented failure). Node ≤ 25 closes after 5 s; the ALB keeps 60 s.
 */
export interface ServerTuningOptions {
  /** Explicit settings for the HTTP server that serves the app. */
  server?: { keepAliveTimeout?: number; headersTimeout?: number }
  /** The load balancer in front of the app: a preset, or its idle timeout in ms. Derives `server`. */
  behind?: Intermediary | { idleTimeout: number }
}

export interface ServerTimeouts {
  readonly keepAliveTimeout: number
  readonly headersTimeout: number
}

/** The server's timeouts for these options, or null when there is nothing to set. */
export function serverTimeoutsFor(options: ServerTuningOptions): ServerTimeouts | null {
  const { server, behind } = options
  let front: number | null = null
  if (behind !== undefined) {
    if (typeof behind === 'string') {
      if (!Object.hasOwn(INTERMEDIARY_IDLE_TIMEOUTS, behind))
        throw new StaleguardOptionError(
          'behind',
          `must be one of ${INTERMEDIARIES.join(', ')} or { idleTimeout }`,
          behind,
        )
      front = INTERMEDIARY_IDLE_TIMEOUTS[behind].idleTimeoutMs
    } else if (
      typeof behind === 'object' &&
      behind !== null &&
      Number.isInteger(behind.idleTimeout) &&
      behind.idleTimeout > 0
    ) {
      front = behind.idleTimeout
    } else {
      throw new StaleguardOptionError('behind', 'must be a preset name or { idleTimeout: ms }', behind)
    }
  }
  if (server !== undefined && (typeof server !== 'object' || server === null))
    throw new StaleguardOptionError('server', 'must be an object', server)
  if (front === null && server?.keepAliveTimeout === undefined && server?.headersTimeout === undefined) return null
  // Outlast the balancer by 10 % of its timeout, at least 5 s (Node 26's 65 s default against the ALB's 60 s).
  const derived = front === null ? null : front + Math.max(5_000, Math.round(front * 0.1))
  const keepAliveTimeout = server?.keepAliveTimeout ?? derived ?? 5_000
  if (!Number.isInteger(keepAliveTimeout) || keepAliveTimeout < 1)
    throw new StaleguardOptionError('server.keepAliveTimeout', 'must be a positive integer of ms', keepAliveTimeout)
  if (front !== null && keepAliveTimeout <= front) {
    throw new StaleguardOptionError(
      'server.keepAliveTimeout',
      `must be above the load balancer's idle timeout of ${front} ms, or it answers 502`,
      keepAliveTimeout,
    )
  }
  // Node wants headersTimeout above keepAliveTimeout, or a slow first header on a kept-alive socket races it.
  const headersTimeout = server?.headersTimeout ?? keepAliveTimeout + 1_000
  if (!Number.isInteger(headersTimeout) || headersTimeout <= keepAliveTimeout) {
    throw new StaleguardOptionError(
      'server.headersTimeout',
      `must be an integer above keepAliveTimeout (${keepAliveTimeout} ms)`,
      headersTimeout,
    )
  }
  return { keepAliveTimeout, headersTimeout }
}

/**
 * Sets the keep-alive timeouts of the HTTP server that serves the app. Call it before `listen` (Express,
 * Koa), or let the adapter do it: Fastify at registration, Express and Koa on the first request.
 */
export function tuneServer(server: Server, options: ServerTuningOptions): ServerTimeouts | null {
  const timeouts = serverTimeoutsFor(options)
  if (timeouts === null) return null
  server.keepAliveTimeout = timeouts.keepAliveTimeout
  server.headersTimeout = timeouts.headersTimeout
  return timeouts
}
