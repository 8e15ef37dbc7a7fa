import type { Server } from 'node:http'
import { type Intermediary, INTERMEDIARIES, INTERMEDIARY_IDLE_TIMEOUTS } from '../config/intermediaries.js'
import { StaleguardOptionError } from '../config/options.js'
import { checkObject } from '../config/resolve-options.js'

/**
 * The other half of the pairing. Behind a load balancer, the app's own server must keep idle connections
 * open *longer* than the balancer does, or the balancer reuses a connection the server just closed and
 * answers 502 (AWS ALB's documented failure). Node ≤ 25 closes after 5 s; the ALB keeps 60 s.
 */
export interface ServerTuningOptions {
  /**
   * Explicit settings for the HTTP server that serves the app, in ms. `keepAliveTimeout`: an integer from 1 to
   * 86 400 000, above the idle timeout of `behind` when both are given; default derived from `behind`, else
   * 5000. `headersTimeout`: an integer above `keepAliveTimeout`; default `keepAliveTimeout` + 1000.
   */
  server?: { keepAliveTimeout?: number; headersTimeout?: number }
  /**
   * The load balancer in front of the app: a preset, or `{ idleTimeout }` in ms (an integer from 100 to
   * 86 400 000). Derives `server`: its idle timeout plus 10 % of it, at least 5 s more. Default: none.
   */
  behind?: Intermediary | { idleTimeout: number }
}

/** The timeouts {@link tuneServer} set on a server, in ms. */
export interface ServerTimeouts {
  /** Set as the server's `keepAliveTimeout`: how long it keeps an idle inbound connection. */
  readonly keepAliveTimeout: number
  /** Set as the server's `headersTimeout`: always above `keepAliveTimeout`. */
  readonly headersTimeout: number
}

/** Bounds of an idle timeout in ms, as for `upstreamIdleTimeout`: 100 ms to a day. */
const MIN_IDLE_MS = 100
const MAX_IDLE_MS = 86_400_000

/** The server's timeouts for these options, or null when there is nothing to set. */
export function serverTimeoutsFor(options: ServerTuningOptions): ServerTimeouts | null {
  const { server, behind } = options
  let front: number | null = null
  if (behind !== undefined) {
    if (typeof behind === 'string') {
      if (!Object.hasOwn(INTERMEDIARY_IDLE_TIMEOUTS, behind))
        throw new StaleguardOptionError(
          'behind',
          `must be one of ${INTERMEDIARIES.join(', ')}, or { idleTimeout: ms } for another load balancer`,
          behind,
        )
      front = INTERMEDIARY_IDLE_TIMEOUTS[behind].idleTimeoutMs
    } else if (typeof behind === 'object' && behind !== null && !Array.isArray(behind)) {
      checkObject('behind', behind, BEHIND_KEYS)
      front = wholeMs(
        'behind.idleTimeout',
        behind.idleTimeout,
        MIN_IDLE_MS,
        MAX_IDLE_MS,
        "the load balancer's idle timeout",
      )
    } else {
      throw new StaleguardOptionError(
        'behind',
        `must be a preset name (${INTERMEDIARIES.join(', ')}) or { idleTimeout: ms }`,
        behind,
      )
    }
  }
  if (server !== undefined) checkObject('server', server, SERVER_KEYS)
  if (front === null && server?.keepAliveTimeout === undefined && server?.headersTimeout === undefined) return null
  // Outlast the balancer by 10 % of its timeout, at least 5 s (Node 26's 65 s default against the ALB's 60 s).
  const derived = front === null ? null : front + Math.max(5_000, Math.round(front * 0.1))
  const keepAliveTimeout =
    server?.keepAliveTimeout === undefined
      ? (derived ?? 5_000)
      : wholeMs(
          'server.keepAliveTimeout',
          server.keepAliveTimeout,
          1,
          MAX_IDLE_MS,
          'the idle time of inbound keep-alive connections',
        )
  if (front !== null && keepAliveTimeout <= front) {
    throw new StaleguardOptionError(
      'server.keepAliveTimeout',
      `must be above the load balancer's idle timeout of ${front} ms, or it answers 502`,
      keepAliveTimeout,
    )
  }
  // Node wants headersTimeout above keepAliveTimeout, or a slow first header on a kept-alive socket races it.
  const headersTimeout = server?.headersTimeout ?? keepAliveTimeout + 1_000
  if (typeof headersTimeout !== 'number' || !Number.isInteger(headersTimeout) || headersTimeout <= keepAliveTimeout) {
    throw new StaleguardOptionError(
      'server.headersTimeout',
      `must be an integer of ms above the server's keepAliveTimeout (${keepAliveTimeout} ms)`,
      headersTimeout,
    )
  }
  return { keepAliveTimeout, headersTimeout }
}

const BEHIND_KEYS = new Set(['idleTimeout'])
const SERVER_KEYS = new Set(['keepAliveTimeout', 'headersTimeout'])

function wholeMs(name: string, value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new StaleguardOptionError(name, `must be an integer from ${min} to ${max} ms (${what})`, value)
  return value
}

/**
 * Sets the keep-alive timeouts of the HTTP server that serves the app. Call it before `listen` (Express,
 * Koa), or let the adapter do it: Fastify at registration, Express and Koa on the first request.
 * Returns the timeouts set, or null when the options set none (the server is then left as it is); a bad
 * option throws a {@link StaleguardOptionError}.
 */
export function tuneServer(server: Server, options: ServerTuningOptions): ServerTimeouts | null {
  const timeouts = serverTimeoutsFor(options)
  if (timeouts === null) return null
  server.keepAliveTimeout = timeouts.keepAliveTimeout
  server.headersTimeout = timeouts.headersTimeout
  return timeouts
}
