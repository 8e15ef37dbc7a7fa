import type { buildConnector } from 'undici'
import type { Intermediary } from './intermediaries.js'

/** RFC 9110 §9.2.2 idempotent methods, plus QUERY (idempotent by definition, undici 8.6 retries it too). */
export const IDEMPOTENT_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY']

/**
 * The retry budget of one origin (`retry.budget`): a cap on retries while an upstream keeps failing, so that
 * retries never multiply the load on a service that is down.
 */
export interface RetryBudgetOptions {
  /** Retries allowed as a share of the requests in the window, 0–1 (a retry that got a response gives its share back). Default 0.2. */
  ratio?: number
  /** Retries always allowed per window, however quiet the service: an integer, 0–10 000. Default 10. */
  minRetries?: number
  /** Length of the sliding window in ms, an integer from 1000 to 3 600 000. Default 10 000. */
  windowMs?: number
}

/**
 * When a request that died on a stale socket is sent again (the `retry` option). An origin's `retry` object
 * refines the global one: the fields it leaves out keep the global values.
 */
export interface RetryOptions {
  /** Most re-sends of one request, an integer 1–3. Default 1. */
  maxRetries?: number
  /**
   * Methods safe to send twice, case-insensitive; each a non-empty string. Default GET HEAD OPTIONS TRACE PUT
   * DELETE QUERY ({@link IDEMPOTENT_METHODS}); any method with an Idempotency-Key header also qualifies.
   */
  methods?: readonly string[]
  /** Cap on retries when an upstream keeps failing, or `false` for none. Default: the budget's defaults. */
  budget?: false | RetryBudgetOptions
  /**
   * Largest fetch body (bytes) kept in memory so it can be replayed, an integer from 0 to 1 GiB; a larger
   * body is sent but never replayed. Default 8 MiB.
   */
  maxReplayBodyBytes?: number
}

/** Settings that can be given for all origins and overridden per origin. */
export interface OriginOptions {
  /**
   * Idle time in ms after which a pooled socket is retired, an integer from 1 to 3 600 000 and below the
   * path's idle timeout when one is known (`upstreamIdleTimeout`, `upstream`). Default 4000, or derived
   * safely below the path's idle timeout ({@link idleLimitBelow}).
   */
  keepAliveTimeout?: number
  /**
   * Ceiling in ms for a server's `Keep-Alive: timeout=` hint: it may lower the idle time, never raise it above
   * this. An integer from `keepAliveTimeout` to 3 600 000 (below the path's idle timeout when one is known).
   * Default: keepAliveTimeout.
   */
  keepAliveMaxTimeout?: number
  /**
   * The shortest idle timeout (ms) of any hop on the path, an integer from 100 to 86 400 000; the idle limit is
   * derived safely below it. Measure it with `staleguard probe`. Default: none.
   */
  upstreamIdleTimeout?: number
  /**
   * Known hops on the path, one preset or a non-empty array ({@link INTERMEDIARY_IDLE_TIMEOUTS}); their default
   * idle timeouts apply, and the shortest (with `upstreamIdleTimeout`) wins. Default: none.
   */
  upstream?: Intermediary | readonly Intermediary[]
  /** Most sockets per origin, an integer from 1 to 65 535. Default: unlimited, as undici. */
  connections?: number
  /** Safe-retry settings, or `false` to never retry. Default: one retry, with the budget's defaults. */
  retry?: false | RetryOptions
  /**
   * Lower an origin's idle limit after a stale failure (and raise it back slowly), and learn the number of
   * requests after which its connections are closed. Default true.
   */
  learnIdleLimit?: boolean
  /**
   * Send a request that cannot be replayed (a method not safe to send twice without an Idempotency-Key, a
   * stream or oversized body) only on a socket idle no longer than this origin has proven safe (a reuse after
   * at least that idle got its response, less 10 %; 250 ms before any; a declared path's idle limit),
   * else on a new connection: such a request can never be saved by a retry, so it must not meet a stale
   * socket. While a socket is suspect, a request that can be replayed is given the longest-idle one, so that
   * its answer extends the evidence. Costs one connection per such request in flight after an idle gap longer
   * than the evidence, next to none under steady traffic. `false` writes every request on the socket undici's
   * pool picks. Default true.
   */
  protectUnreplayable?: boolean
  /**
   * Retire a connection once it is this old (ms, an integer from 100 to 86 400 000), when it is idle; each
   * connection's age is drawn up to 10 % below it, so a fleet does not reconnect in step. For upstreams whose
   * addresses move (DNS failover, scaling load balancers, blue/green swaps). Default: none.
   */
  maxConnectionAge?: number
  /** Retire a connection after this many requests, when it is idle: an integer from 1 to 10⁹. Default: none. */
  maxRequestsPerConnection?: number
  /**
   * While an origin has connections, look its name up again this often (ms, an integer from 100 to
   * 86 400 000), or when the answer's TTL ends if the lookup gives one (whichever is sooner); a connection to
   * an address no longer in the answer takes no new request and is closed once idle. The lookup is the one
   * new connections use: `connect.lookup` if given, else `dns.lookup`. `false`: never (connections keep their
   * address until retired). Not for origins reached through a proxy, by address, or over a unix socket.
   * Default 10 000.
   */
  dnsRefreshInterval?: number | false
  /**
   * Negotiate HTTP/2 with `https:` origins that offer it (ALPN). Default: what the runtime's own fetch does,
   * on with Node 26 (undici 8), off before, so installing staleguard never changes the protocol.
   */
  allowH2?: boolean
  /** undici `headersTimeout` in ms, an integer from 0 (none) to 3 600 000. Default: undici's (300 000). */
  headersTimeout?: number
  /** undici `bodyTimeout` in ms, an integer from 0 (none) to 3 600 000. Default: undici's (300 000). */
  bodyTimeout?: number
  /** undici connector options (TLS `ca`, `servername`, connect `timeout`, …), an object. Default: undici's. */
  connect?: buildConnector.BuildOptions
}

/** A forward proxy's settings, in the words of undici's `ProxyAgent` options. */
export interface ProxySettings {
  /** The proxy's URL (`http://proxy.internal:3128`); credentials in it become `Proxy-Authorization: Basic`. */
  uri: string | URL
  /** Sent as `Proxy-Authorization` (e.g. `Bearer …`), in place of credentials in the URL. */
  token?: string
  /** Headers sent to the proxy with every CONNECT (or, without a tunnel, every request). */
  headers?: Record<string, string>
  /** Connector options for the connection to the proxy itself (an `https:` proxy's `ca`, `servername`). */
  proxyTls?: buildConnector.BuildOptions
  /** Connector options for the TLS connection to `https:` targets through the tunnel (merged under `connect`). */
  requestTls?: buildConnector.BuildOptions
  /**
   * Reach `http:` targets through a CONNECT tunnel too (true, undici's default) or send their requests to the
   * proxy in absolute form (false). `https:` targets always go through a tunnel.
   */
  proxyTunnel?: boolean
}

/**
 * How requests leave the process: `'env'` reads `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` (either case) with
 * the rules of undici's `EnvHttpProxyAgent`; a URL or `ProxySettings` sends every request through that proxy;
 * `false` goes direct.
 */
export type ProxyOption = 'env' | string | URL | ProxySettings | false

/**
 * Everything a staleguard dispatcher takes (`createDispatcher`, `installGlobalDispatcher`, `createFetch`,
 * `createRequest`, and the adapters). Every option is checked when the dispatcher is built: a value outside
 * its range, or an unknown key, throws a {@link StaleguardOptionError} naming it.
 */
export interface StaleguardOptions extends OriginOptions {
  /**
   * Per-origin overrides, keyed by origin (`https://api.example.com`; keys must be absolute URLs, and
   * `https://API.example:443/` names the same origin). Each option replaces the global one.
   */
  origins?: Record<string, OriginOptions>
  /**
   * The forward proxy requests go through. Default: what the process does without staleguard: `'env'` when
   * Node reads the environment itself (`NODE_USE_ENV_PROXY=1`, `--use-env-proxy`) or the global dispatcher
   * in place is an `EnvHttpProxyAgent`, the settings of a staleguard dispatcher in place, else direct. A
   * `ProxyAgent` in place, whose settings cannot be read, is an error asking for this option.
   */
  proxy?: ProxyOption
  /**
   * Take over the settings of the global dispatcher in place when this one is made: an undici `Agent`'s connect
   * options (TLS, `lookup`, `socketPath`…), connection limits and timeouts, an `EnvHttpProxyAgent`'s proxies
   * (composed with interceptors or not; installing keeps the interceptors too), a staleguard dispatcher's own.
   * The options given here win where both say something. A dispatcher whose settings cannot be read (a
   * `RetryAgent`, an Agent with its own `factory`, an unknown `Dispatcher`) is refused with a
   * {@link StaleguardOptionError}. `false`: build from the options given alone, whatever is in place. Default true.
   */
  inherit?: boolean
}

export interface RetryBudgetSettings {
  readonly ratio: number
  readonly minRetries: number
  readonly windowMs: number
}

export interface ResolvedRetry {
  readonly maxRetries: number
  readonly methods: ReadonlySet<string>
  readonly budget: RetryBudgetSettings | null
  readonly maxReplayBodyBytes: number
}

export interface ResolvedOriginOptions {
  readonly keepAliveTimeout: number
  readonly keepAliveMaxTimeout: number
  /** The shortest idle timeout known on the path, or null when none was given. */
  readonly upstreamIdleTimeout: number | null
  readonly connections: number | null
  readonly retry: ResolvedRetry | null
  readonly learnIdleLimit: boolean
  readonly protectUnreplayable: boolean
  readonly allowH2: boolean
  readonly maxConnectionAge: number | null
  readonly maxRequestsPerConnection: number | null
  /** ms between lookups of the origin's name, or null for none. */
  readonly dnsRefreshInterval: number | null
  readonly headersTimeout: number | undefined
  readonly bodyTimeout: number | undefined
  readonly connect: buildConnector.BuildOptions | undefined
}

/** Thrown at construction for an option outside its accepted range; `option` names it. */
export class StaleguardOptionError extends TypeError {
  /** The option's path as written: `keepAliveTimeout`, `retry.maxRetries`, `origins['https://a.example'].connections`. */
  readonly option: string
  /**
   * The message is `staleguard: option <option> <expectation> (got <value>)`, the option's name in backticks:
   * for `retry.maxRetries: 4`, "must be an integer from 1 to 3 retries (got 4)".
   */
  constructor(option: string, expectation: string, value: unknown) {
    super(`staleguard: option \`${option}\` ${expectation} (got ${describe(value)})`)
    this.name = 'StaleguardOptionError'
    this.option = option
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object'
  return String(value)
}
