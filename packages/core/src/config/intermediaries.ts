/**
 * Default idle timeouts of the hops users put between a Node client and its upstream, as data in one
 * place. Each entry is the time after which that hop forgets or closes an idle keep-alive connection,
 * taken from the vendor's documentation (sources in `README.md`, section "Presets").
 */
export const INTERMEDIARY_IDLE_TIMEOUTS = {
  /** Node's http server up to v25: `keepAliveTimeout` 5 s (v26 raised it to 65 s; the shorter one wins). */
  node: { idleTimeoutMs: 5_000, closes: 'FIN' },
  /** AWS Application Load Balancer: connection idle timeout, 60 s by default (1–4000 s). */
  'aws-alb': { idleTimeoutMs: 60_000, closes: 'FIN' },
  /** AWS Network Load Balancer: TCP idle timeout 350 s; the flow is then forgotten silently. */
  'aws-nlb': { idleTimeoutMs: 350_000, closes: 'RST on next packet' },
  /** AWS NAT Gateway: 350 s, then RST on the next packet, without a FIN. */
  'aws-nat': { idleTimeoutMs: 350_000, closes: 'RST on next packet' },
  /** Google Cloud external Application Load Balancer, backend side: 600 s (610 s client side). */
  'gcp-lb': { idleTimeoutMs: 600_000, closes: 'FIN' },
  /** Azure Load Balancer: 4 min by default (4–100 min); silent unless TCP reset on idle is enabled. */
  'azure-lb': { idleTimeoutMs: 240_000, closes: 'silent drop, or RST' },
  /** nginx `keepalive_timeout` for client connections: 75 s. */
  nginx: { idleTimeoutMs: 75_000, closes: 'FIN' },
  /**
   * HAProxy has no built-in value: `timeout http-keep-alive`, else `timeout http-request`, else
   * `timeout client`. The commonly shipped defaults section sets `timeout http-request 10s`.
   */
  haproxy: { idleTimeoutMs: 10_000, closes: 'FIN' },
  /**
   * squid, a forward proxy: `client_idle_pconn_timeout` closes an idle client connection after 2 min
   * (CONNECT tunnels end after `read_timeout`, 15 min; the shorter one wins).
   */
  squid: { idleTimeoutMs: 120_000, closes: 'FIN' },
  /** Cloudflare keeps idle client connections 400 s. */
  cloudflare: { idleTimeoutMs: 400_000, closes: 'FIN' },
} as const satisfies Record<string, { idleTimeoutMs: number; closes: string }>

/** A preset name, for `upstream` (a hop in front of the services the app calls) and `behind` (one in front of the app). */
export type Intermediary = keyof typeof INTERMEDIARY_IDLE_TIMEOUTS

export const INTERMEDIARIES = Object.keys(INTERMEDIARY_IDLE_TIMEOUTS) as Intermediary[]

/**
 * The client idle limit to use below a hop that forgets idle connections after `upstreamIdleMs`.
 *
 * The margin is 10 % of the hop's timeout and at least 1 s: it absorbs timer slack on both sides, clock
 * drift between hosts and the one-way delay of a FIN, so that the client retires the socket before the
 * hop does instead of racing it. For very short timeouts the limit never drops below half the timeout.
 */
export function idleLimitBelow(upstreamIdleMs: number): number {
  const margin = Math.max(1_000, Math.round(upstreamIdleMs * 0.1))
  return Math.max(Math.floor(upstreamIdleMs / 2), upstreamIdleMs - margin)
}
