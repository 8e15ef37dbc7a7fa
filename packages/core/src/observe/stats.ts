import type { StaleguardCounters } from './counters.js'

/** One origin's counters and its sockets now, as `stats()` reports them. */
export interface OriginStats extends StaleguardCounters {
  /** The origin (`https://api.example.com`), normalized as the keys of `origins` are. */
  readonly origin: string
  /** The forward proxy this origin's requests go through (its origin, no credentials), or null for direct. */
  readonly proxy: string | null
  /** Sockets currently open to this origin. */
  readonly openSockets: number
  /** Of those, the ones carrying a request now (the rest are idle in the pool). */
  readonly activeSockets: number
  /** Attempts written per connection opened (to two decimals): how well keep-alive holds. 0 before any. */
  readonly requestsPerSocket: number
  /** Idle time after which sockets are retired now (learned, or configured). */
  readonly idleLimitMs: number
  /** The limit learned from stale failures, or null when the configured one is in force. */
  readonly learnedIdleLimitMs: number | null
  /**
   * The longest idle a reused socket of this origin survived (ms), or null before any reuse: a request that
   * cannot be replayed goes only on a socket idle for less (with a margin), else on a new connection.
   */
  readonly provenIdleMs: number | null
  /**
   * Requests after which this origin's connections are found to die (for an HTTP/2 origin: the streams its
   * server takes per session, less one), once learned; they are then retired after that many. Else null.
   */
  readonly learnedRequestLimit: number | null
  /** Open sockets per remote address (`{ '10.0.0.7': 3 }`): where the pool's connections go now. */
  readonly addresses: Readonly<Record<string, number>>
  /**
   * The addresses the origin's name resolved to at its last lookup (`dnsRefreshInterval`), or null: not
   * looked up again yet, or not looked up by staleguard (by address, proxied, unix socket, turned off).
   */
  readonly resolvedAddresses: readonly string[] | null
}

/** A dispatcher's counters in total, and per origin. */
export interface StaleguardStats extends StaleguardCounters {
  /** Sockets currently open, all origins together. */
  readonly openSockets: number
  /** Each origin this dispatcher has sent to, keyed by its origin. */
  readonly origins: Readonly<Record<string, OriginStats>>
}
