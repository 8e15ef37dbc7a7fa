import { lookup as dnsLookup } from 'node:dns'
import { isIP } from 'node:net'

/** How an origin's connections resolve its name: `dns.lookup`'s shape, as `net.connect` takes it. */
export type AddressLookup = (
  hostname: string,
  options: { all: true },
  callback: (error: Error | null, addresses: unknown, family?: number) => void,
) => void

/** The lookup new connections use when the app gave none. */
export const systemLookup = dnsLookup as unknown as AddressLookup

/** A TTL below this is taken as this: a name that moves faster is not one a pool can follow. */
const MIN_REFRESH_MS = 1_000

/**
 * A name that starts resolving to new addresses (DNS failover, a load balancer that scales, a blue/green
 * swap) still has its pooled connections to the old ones, which keep carrying requests for as long as they
 * answer, however long that is. So while an origin has connections its name is looked up again, with the
 * lookup its new connections use (the app's `connect.lookup`, else `dns.lookup`, which reads /etc/hosts as
 * `net.connect` does): when the answer's TTL ends if the lookup gives one (as `cacheable-lookup` does), or
 * every `intervalMs`. The origin retires its connections to addresses no longer in the answer
 * (`OriginState.onAddresses`). A failed or empty answer changes nothing. Off the request path: one timer per
 * origin with connections, unref'd, stopped when its last connection closes.
 */
export class AddressRefresh {
  readonly #hostname: string
  readonly #lookup: AddressLookup
  readonly #intervalMs: number
  readonly #onAnswer: (addresses: ReadonlySet<string>) => void
  #timer: NodeJS.Timeout | null = null
  #stopped = true
  /** The last answer, in the lookup's order, or null before one. */
  addresses: readonly string[] | null = null

  constructor(
    hostname: string,
    lookup: AddressLookup,
    intervalMs: number,
    onAnswer: (addresses: ReadonlySet<string>) => void,
  ) {
    this.#hostname = hostname
    this.#lookup = lookup
    this.#intervalMs = intervalMs
    this.#onAnswer = onAnswer
  }

  /** Looks again after the interval, unless it already does. */
  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#schedule(this.#intervalMs)
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#lookUp(), delayMs)
    this.#timer.unref()
  }

  #lookUp(): void {
    this.#timer = null
    let answered = false
    const settle = (error: Error | null, raw: unknown, family?: number) => {
      if (answered || this.#stopped) return
      answered = true
      const entries = error === null ? entriesOf(raw, family) : []
      if (entries.length > 0) {
        this.addresses = entries.map((entry) => entry.address)
        this.#onAnswer(new Set(this.addresses))
      }
      const ttlMs = shortestTtlMs(entries)
      this.#schedule(ttlMs === null ? this.#intervalMs : Math.max(MIN_REFRESH_MS, Math.min(ttlMs, this.#intervalMs)))
    }
    try {
      this.#lookup(this.#hostname, { all: true }, settle)
    } catch (error) {
      settle(error as Error, null)
    }
  }
}

/** Whether a name is worth looking up again: not an address already. */
export function isHostName(hostname: string): boolean {
  return isIP(hostname.replace(/^\[|\]$/g, '')) === 0
}

interface Entry {
  readonly address: string
  readonly ttl?: number
}

/** `{ all: true }` answers are arrays; a lookup that ignores the option answers one address. */
function entriesOf(raw: unknown, family?: number): Entry[] {
  if (typeof raw === 'string') return family === undefined && isIP(raw) === 0 ? [] : [{ address: raw }]
  if (!Array.isArray(raw)) return []
  return raw.filter(
    (entry): entry is Entry => typeof entry === 'object' && entry !== null && typeof entry.address === 'string',
  )
}

/** The shortest TTL the answer carries, in ms (`ttl` in seconds, as `dns.resolve4({ ttl: true })` and `cacheable-lookup` give it). */
function shortestTtlMs(entries: readonly Entry[]): number | null {
  let shortest: number | null = null
  for (const { ttl } of entries) {
    if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0) shortest = Math.min(shortest ?? ttl, ttl)
  }
  return shortest === null ? null : shortest * 1000
}
