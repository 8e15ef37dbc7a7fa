import { idleLimitBelow } from '../config/intermediaries.js'
import { type IdleEnd, ProbeConnection, type ProbeTarget } from './probe-connection.js'

/** How {@link probeIdleLimit} searches; a bad URL, method or `minMs`/`maxMs` pair throws before anything is sent. */
export interface ProbeOptions {
  /** Shortest idle time to try, ms, above 0. Default 1000. */
  minMs?: number
  /** Longest idle time to try, ms, at least `minMs`; the probe ends within this plus a bounded margin. Default 120 000. */
  maxMs?: number
  /** Connections left idle at once, each for a different time: 1 to 16 (clamped). Default 4. */
  parallel?: number
  /** Only GET or HEAD are ever sent. Default GET. */
  method?: 'GET' | 'HEAD'
  /** Stop narrowing once the bracket is this tight, ms. Default max(100, 5 % of the limit). */
  toleranceMs?: number
  /** Called when a round starts, when one of its connections changes state, and every `progressIntervalMs`. */
  onProgress?: (progress: ProbeProgress) => void
  /** How often `onProgress` is called while connections sit idle, ms. Default 1000. */
  progressIntervalMs?: number
}

/** What `onProgress` is called with: the round under way and where each of its connections is. */
export interface ProbeProgress {
  /** The round under way, from 1; each round narrows the bracket between alive and dead. */
  readonly round: number
  /** The idle times this round tries, ms, one per connection. */
  readonly idleTimesMs: readonly number[]
  /** The round's connections, one per idle time, in the same order. */
  readonly connections: readonly ConnectionProgress[]
  /** Time since the probe started, ms. */
  readonly elapsedMs: number
  /** The probe ends by this elapsed time at the latest. */
  readonly deadlineMs: number
  /** What prompted the call: a round starting, a connection changing state, or the periodic tick. */
  readonly cause: 'round' | 'connection' | 'tick'
}

/**
 * Where one connection of a round is: `opening` (connecting and sending its first request), `idle`,
 * `reusing` (its second request is under way), `stopped` (a shorter idle time of the round already failed,
 * so this one would too), or its outcome.
 */
export type ConnectionState = 'opening' | 'idle' | 'reusing' | 'stopped' | ProbeOutcome

/** One connection of a round, in {@link ProbeProgress}. */
export interface ConnectionProgress {
  /** The idle time this connection tries, ms. */
  readonly idleMs: number
  /** Where it is now. */
  readonly state: ConnectionState
  /** How long it has sat idle so far, or sat idle in all, ms. */
  readonly idleForMs: number
}

/**
 * What one connection showed after its idle time:
 *
 * - `alive`: reused after that idle time and answered.
 * - `closed-fin`: the hop closed it with a FIN while idle (`endedAfterMs` says when: its idle timeout).
 * - `reset-idle`: an RST arrived while idle.
 * - `reset-on-reuse`: looked open, but the request after the idle time got an RST (a NAT/NLB forgot it).
 * - `closed-on-reuse`: the request after the idle time crossed a FIN.
 * - `no-answer`: the request after the idle time got nothing (a silent drop).
 */
export type ProbeOutcome = 'alive' | 'closed-fin' | 'reset-idle' | 'reset-on-reuse' | 'closed-on-reuse' | 'no-answer'

/** One connection's result: the idle time it was left for and what happened. */
export interface ProbeObservation {
  /** The idle time tried, ms. */
  readonly idleMs: number
  /** What the connection showed. */
  readonly outcome: ProbeOutcome
  /** When the hop closed or reset it while idle, ms into the idle time (its idle timeout); else null. */
  readonly endedAfterMs: number | null
}

/** What {@link probeIdleLimit} found; `formatProbeReport` turns it into the CLI's text. */
export interface ProbeReport {
  /** The URL probed, normalized. */
  readonly url: string
  /** The method every request used. */
  readonly method: 'GET' | 'HEAD'
  /** False when the server closed the connection after its first answer: there is no idle limit to measure. */
  readonly keepAlive: boolean
  /** The `timeout=` of the server's `Keep-Alive` response header, in seconds, or null when it sent none. */
  readonly keepAliveHintSeconds: number | null
  /** Every connection's result, round by round (a connection stopped early has none). */
  readonly observations: readonly ProbeObservation[]
  /** Longest idle time a connection survived, and shortest one it did not (null: not seen). */
  readonly aliveUpToMs: number | null
  /** Shortest idle time after which a connection was found closed, reset or silent, ms (null: none was). */
  readonly deadFromMs: number | null
  /** How the hop ends idle connections, when one was seen to. */
  readonly closes: 'FIN' | 'RST' | 'silent' | null
  /**
   * `upstreamIdleTimeout`: the measured limit rounded down to a tidy value (see `tidyIdleTimeout`);
   * `keepAliveTimeout`: the idle limit staleguard then keeps below it (`idleLimitBelow`).
   */
  readonly recommended: { readonly upstreamIdleTimeout: number; readonly keepAliveTimeout: number } | null
  /** How long the probe took, ms. */
  readonly elapsedMs: number
}

const ANSWER_TIMEOUT_MS = 5_000
const SETUP_MARGIN_MS = 5_000

/**
 * Measures how long an upstream (and every hop before it) keeps an idle keep-alive connection: opens
 * connections, leaves each idle for a different time, and sees whether it comes back alive, was closed
 * with a FIN, or is reset on reuse; then narrows the bracket round by round. Sends only GET or HEAD.
 * Ends within `maxMs` plus a bounded margin.
 */
export async function probeIdleLimit(url: string | URL, options: ProbeOptions = {}): Promise<ProbeReport> {
  const target: ProbeTarget = { url: new URL(url), method: options.method ?? 'GET', answerTimeoutMs: ANSWER_TIMEOUT_MS }
  if (target.url.protocol !== 'http:' && target.url.protocol !== 'https:')
    throw new TypeError(`probe: only http and https URLs (got ${target.url.protocol})`)
  if (target.method !== 'GET' && target.method !== 'HEAD')
    throw new TypeError('probe: only GET or HEAD requests are sent')
  const minMs = options.minMs ?? 1_000
  const maxMs = options.maxMs ?? 120_000
  const parallel = Math.max(1, Math.min(16, options.parallel ?? 4))
  if (!(minMs > 0 && maxMs >= minMs)) throw new RangeError('probe: need 0 < min ≤ max')
  const started = performance.now()
  const deadline = maxMs + SETUP_MARGIN_MS + 2 * ANSWER_TIMEOUT_MS
  const elapsed = () => performance.now() - started

  const observations: ProbeObservation[] = []
  let aliveUpTo: number | null = null
  let deadFrom: number | null = null
  let finAt: number | null = null
  let closes: ProbeReport['closes'] = null
  let keepAlive = true
  let hint: number | null = null

  let points = spread(minMs, maxMs, parallel, 'geometric')
  for (let round = 1; points.length > 0; round++) {
    const longest = Math.max(...points)
    if (round > 1 && elapsed() + longest + ANSWER_TIMEOUT_MS > deadline) break
    const connections = points.map((idleMs) => ({
      idleMs,
      state: 'opening' as ConnectionState,
      idleSince: 0,
      endedAt: 0,
    }))
    const report = (cause: ProbeProgress['cause']) => {
      if (!options.onProgress) return
      const now = performance.now()
      options.onProgress({
        round,
        idleTimesMs: points,
        connections: connections.map(({ idleMs, state, idleSince, endedAt }) => ({
          idleMs,
          state,
          idleForMs: idleSince === 0 ? 0 : Math.round(Math.min(idleMs, (endedAt || now) - idleSince)),
        })),
        elapsedMs: elapsed(),
        deadlineMs: deadline,
        cause,
      })
    }
    report('round')
    const ticker = setInterval(() => report('tick'), options.progressIntervalMs ?? 1_000)
    ticker.unref()
    // Once an idle time is known dead, longer ones in the round are dead too: stop waiting for them. A
    // connection that fails outright stops the others too, so that the error is not held back by their waits.
    let shortestDeadThisRound = Number.POSITIVE_INFINITY
    const failures: unknown[] = []
    const results = await Promise.all(
      connections.map((connection) =>
        measureOne(
          target,
          connection.idleMs,
          () => failures.length > 0 || connection.idleMs > shortestDeadThisRound,
          (state) => {
            const now = performance.now()
            if (state === 'idle') connection.idleSince = now
            else if (connection.idleSince !== 0 && connection.endedAt === 0) connection.endedAt = now
            connection.state = state
            report('connection')
          },
        ).then(
          (result) => {
            if (result && 'observation' in result && result.observation.outcome !== 'alive') {
              shortestDeadThisRound = Math.min(
                shortestDeadThisRound,
                result.observation.endedAfterMs ?? connection.idleMs,
              )
            }
            return result
          },
          (error: unknown) => {
            failures.push(error)
            return null
          },
        ),
      ),
    )
    clearInterval(ticker)
    if (failures.length > 0) throw failures[0]
    clearInterval(ticker)
    for (const result of results) {
      if (result === null) continue
      if ('notKeptAlive' in result) {
        keepAlive = false
        continue
      }
      hint ??= result.hint
      observations.push(result.observation)
      const { outcome, idleMs, endedAfterMs } = result.observation
      if (outcome === 'alive') {
        aliveUpTo = Math.max(aliveUpTo ?? 0, idleMs)
      } else {
        const dead = endedAfterMs ?? idleMs
        deadFrom = Math.min(deadFrom ?? Number.POSITIVE_INFINITY, dead)
        closes =
          outcome === 'closed-fin' || outcome === 'closed-on-reuse' ? 'FIN' : outcome === 'no-answer' ? 'silent' : 'RST'
        if (outcome === 'closed-fin' || outcome === 'reset-idle')
          finAt = Math.min(finAt ?? Number.POSITIVE_INFINITY, dead)
      }
    }
    if (!keepAlive) break
    // A close seen while idle times the hop exactly; otherwise narrow the bracket between alive and dead.
    if (finAt !== null || deadFrom === null || (aliveUpTo === null && deadFrom <= minMs)) break
    const low = aliveUpTo ?? minMs
    const tolerance = options.toleranceMs ?? Math.max(100, 0.05 * low)
    if (deadFrom - low <= tolerance) break
    points = spread(low, deadFrom, parallel, 'inside')
  }

  const safe = finAt ?? aliveUpTo
  const tidy = safe === null ? null : tidyIdleTimeout(safe)
  return {
    url: target.url.href,
    method: target.method,
    keepAlive,
    keepAliveHintSeconds: hint,
    observations,
    aliveUpToMs: aliveUpTo === null ? null : Math.round(aliveUpTo),
    deadFromMs: deadFrom === null ? null : Math.round(deadFrom),
    closes,
    recommended:
      deadFrom === null || tidy === null ? null : { upstreamIdleTimeout: tidy, keepAliveTimeout: idleLimitBelow(tidy) },
    elapsedMs: Math.round(elapsed()),
  }
}

type Measured = { observation: ProbeObservation; hint: number | null } | { notKeptAlive: true }

async function measureOne(
  target: ProbeTarget,
  idleMs: number,
  cancelled: () => boolean,
  onState: (state: ConnectionState) => void,
): Promise<Measured | null> {
  const connection = await ProbeConnection.open(target)
  try {
    const first = await connection.exchange()
    if (!first.keepAlive) return { notKeptAlive: true }
    onState('idle')
    const ended: IdleEnd | null = await connection.idle(idleMs, cancelled)
    if (ended) {
      const outcome = ended.kind === 'fin' ? 'closed-fin' : 'reset-idle'
      onState(outcome)
      return {
        observation: { idleMs, outcome, endedAfterMs: Math.round(ended.afterMs) },
        hint: first.keepAliveHintSeconds,
      }
    }
    if (cancelled()) {
      onState('stopped')
      return null
    }
    onState('reusing')
    const outcome = await connection.exchange().then(
      (): ProbeOutcome => 'alive',
      (error: { code?: string }): ProbeOutcome =>
        error.code === 'ECONNRESET' ? 'reset-on-reuse' : error.code === 'TIMEOUT' ? 'no-answer' : 'closed-on-reuse',
    )
    onState(outcome)
    return { observation: { idleMs, outcome, endedAfterMs: null }, hint: first.keepAliveHintSeconds }
  } finally {
    connection.close()
  }
}

/**
 * The measured idle limit rounded down to a value a person would write in a config: 50 ms steps below 1 s,
 * 100 ms below 10 s, whole seconds below 2 min, 5 s above (9001 → 9000, 75 480 → 75 000, 348 700 → 345 000).
 * Never above the measurement, so the margin `idleLimitBelow` keeps is never smaller than the measured one's.
 */
export function tidyIdleTimeout(ms: number): number {
  const step = ms < 100 ? 1 : ms < 1_000 ? 50 : ms < 10_000 ? 100 : ms < 120_000 ? 1_000 : 5_000
  return Math.max(1, Math.floor(ms / step) * step)
}

/** `count` idle times from `low` to `high`: geometric over a wide first range, evenly inside a bracket. */
function spread(low: number, high: number, count: number, how: 'geometric' | 'inside'): number[] {
  if (how === 'geometric') {
    if (count === 1) return [high]
    const ratio = (high / low) ** (1 / (count - 1))
    return Array.from({ length: count }, (_, i) => Math.round(low * ratio ** i))
  }
  return Array.from({ length: count }, (_, i) => Math.round(low + ((high - low) * (i + 1)) / (count + 1)))
}
