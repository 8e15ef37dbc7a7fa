import type { Dispatcher } from 'undici'
import { INTERMEDIARIES, INTERMEDIARY_IDLE_TIMEOUTS } from '../config/intermediaries.js'
import { type StaleguardOptions, StaleguardOptionError } from '../config/options.js'
import { validateOptions } from '../config/resolve-options.js'
import { type RequestScopeOptions, type ResolvedScopeOptions, resolveScopeOptions } from './scope-options.js'
import { type ServerTimeouts, type ServerTuningOptions, serverTimeoutsFor } from './server-tuning.js'

/** Options every framework adapter takes: core's, the request scope's, server tuning, and ownership. */
export interface AppInstallationOptions extends StaleguardOptions, RequestScopeOptions, ServerTuningOptions {
  /** Use this dispatcher instead of building one. It is borrowed: never installed globally, never closed. */
  dispatcher?: Dispatcher
  /** Install the dispatcher as the process-wide one, so every other fetch is protected too. Default true. */
  installGlobal?: boolean
  /**
   * Also put staleguard agents in `http.globalAgent` / `https.globalAgent` at boot (`installGlobalAgents`),
   * sharing the dispatcher's per-origin state, for clients on node:http (axios, got, node-fetch v2, the AWS
   * SDK's handler when given `http.globalAgent`…); restored on close. Default false.
   */
  httpAgents?: boolean
}

/** The adapter's own keys, beside core's; the list an unknown key's error shows includes them. */
const ADAPTER_KEYS = [
  'installGlobal',
  'httpAgents',
  'dispatcher',
  'requestIdHeader',
  'traceHeaders',
  'timeout',
  'server',
  'behind',
] as const satisfies readonly (keyof AppInstallationOptions)[]

export interface ResolvedAppOptions {
  /** A borrowed dispatcher, or null to build one from `core`. */
  readonly dispatcher: Dispatcher | null
  readonly installGlobal: boolean
  readonly httpAgents: boolean
  readonly scope: ResolvedScopeOptions
  readonly serverTimeouts: ServerTimeouts | null
  /** What is left for the dispatcher: core's options, already validated. */
  readonly core: StaleguardOptions
}

/**
 * Every adapter's options checked in one place, the way core checks its own: each bad value throws a
 * {@link StaleguardOptionError} naming it and what is accepted, whichever framework it came through.
 */
export function resolveAppOptions(options: unknown): ResolvedAppOptions {
  if (options === undefined) options = {}
  checkShape(options)
  // Unknown keys (with a suggestion) and core's values first, over the adapter's keys and core's together.
  validateOptions(options as StaleguardOptions, ADAPTER_KEYS)
  const {
    dispatcher,
    installGlobal = true,
    httpAgents = false,
    requestIdHeader,
    traceHeaders,
    timeout,
    server,
    behind,
    ...core
  } = options as AppInstallationOptions
  if (typeof installGlobal !== 'boolean')
    throw new StaleguardOptionError('installGlobal', 'must be true or false', installGlobal)
  if (typeof httpAgents !== 'boolean')
    throw new StaleguardOptionError('httpAgents', 'must be true or false', httpAgents)
  const scope = resolveScopeOptions({ requestIdHeader, traceHeaders, timeout })
  const serverTimeouts = serverTimeoutsFor({ server, behind })
  if (dispatcher === undefined) return { dispatcher: null, installGlobal, httpAgents, scope, serverTimeouts, core }
  if (typeof dispatcher !== 'object' || dispatcher === null || typeof dispatcher.dispatch !== 'function')
    throw new StaleguardOptionError('dispatcher', 'must be an undici Dispatcher (an Agent, Pool, …)', dispatcher)
  // What is left are the dispatcher's own options, which a borrowed dispatcher already has.
  const stray = Object.keys(core)[0]
  if (stray !== undefined)
    throw new StaleguardOptionError(
      stray,
      'cannot be combined with `dispatcher`: configure the dispatcher you pass in',
      (core as Record<string, unknown>)[stray],
    )
  return { dispatcher, installGlobal, httpAgents, scope, serverTimeouts, core }
}

/** Whatever was passed where the options object goes, answered with what to pass instead. */
function checkShape(options: unknown): asserts options is object {
  if (typeof options === 'object' && options !== null && !Array.isArray(options)) return
  if (typeof options === 'string' && Object.hasOwn(INTERMEDIARY_IDLE_TIMEOUTS, options)) {
    throw new StaleguardOptionError(
      'options',
      `must be an object, not a preset name: pass \`{ behind: '${options}' }\` for the load balancer in front of this app, or \`{ upstream: '${options}' }\` for one in front of the services it calls`,
      options,
    )
  }
  throw new StaleguardOptionError(
    'options',
    `must be an object such as \`{ upstream: 'aws-alb', behind: 'aws-alb' }\`, or left out for the defaults (presets: ${INTERMEDIARIES.join(', ')})`,
    options,
  )
}
