import type { ConnectionProgress, ProbeObservation, ProbeProgress, ProbeReport } from './probe-idle-limit.js'

const OUTCOMES: Record<ProbeObservation['outcome'], string> = {
  alive: 'alive: reused and answered',
  'closed-fin': 'closed by the hop with a FIN while idle',
  'reset-idle': 'reset (RST) while idle',
  'reset-on-reuse': 'reset (RST) on reuse: a hop had forgotten it silently',
  'closed-on-reuse': 'closed (FIN) as it was reused: the close was already under way',
  'no-answer': 'no answer on reuse: silently dropped',
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${(ms / 1_000).toFixed(ms % 1_000 === 0 ? 0 : 1)} s`
  return `${(ms / 60_000).toFixed(1)} min`
}

export function formatProgress(p: ProbeProgress): string {
  const times = p.idleTimesMs.map(formatDuration).join(', ')
  return `round ${p.round}: ${p.idleTimesMs.length} connections idle for ${times} — ${formatDuration(p.elapsedMs)} elapsed (ends by ${formatDuration(p.deadlineMs)})`
}

/** Short words for a connection's state, to fit one terminal line each while the probe runs. */
const STATES: Record<ConnectionProgress['state'], string> = {
  opening: 'connecting',
  idle: 'idle',
  reusing: 'reusing',
  stopped: 'stopped: a shorter idle time already failed',
  alive: 'alive',
  'closed-fin': 'closed (FIN) while idle',
  'reset-idle': 'reset (RST) while idle',
  'reset-on-reuse': 'reset (RST) on reuse',
  'closed-on-reuse': 'closed (FIN) on reuse',
  'no-answer': 'no answer on reuse',
}

const BAR_WIDTH = 12
/** The widest `formatDuration` gives ('119.5 s', '2.0 min'): the columns stay put as times grow. */
const DURATION_WIDTH = 7

/**
 * The progress as a block of lines a terminal redraws in place: the round, then one line per connection with
 * how long it has sat idle out of its idle time, and its state.
 */
export function formatConnections(p: ProbeProgress): string[] {
  const header = `round ${p.round}: ${formatDuration(p.elapsedMs)} elapsed, ends by ${formatDuration(p.deadlineMs)} at the latest`
  return [
    header,
    ...p.connections.map((c, i) => {
      const filled = Math.round((BAR_WIDTH * c.idleForMs) / c.idleMs)
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
      const idle = `${formatDuration(c.idleForMs).padStart(DURATION_WIDTH)} of ${formatDuration(c.idleMs).padStart(DURATION_WIDTH)}`
      return `  ${String(i + 1).padStart(2)} ${bar} ${idle}  ${STATES[c.state]}`
    }),
  ]
}

/**
 * A probe report as the text `staleguard probe` prints: what was sent, each idle time's outcome, the idle
 * limit found, and the options to use as snippets for core, Fastify, Express and Koa. `options` are the
 * search bounds the probe ran with (the ones passed to `probeIdleLimit`, defaults filled in), quoted in the
 * text and in its advice when no limit was found.
 */
export function formatReport(report: ProbeReport, options: { minMs: number; maxMs: number; parallel: number }): string {
  const lines = [
    `staleguard probe ${report.url}`,
    `  Sends only ${report.method} requests to this path. Idle times tried: ${formatDuration(options.minMs)} to ${formatDuration(options.maxMs)}, ${options.parallel} connections at a time.`,
    '',
  ]
  if (!report.keepAlive) {
    lines.push(
      'The server closes the connection after each response (no keep-alive): nothing is pooled, nothing goes stale.',
    )
    return lines.join('\n')
  }
  const observations = [...report.observations].sort((a, b) => a.idleMs - b.idleMs)
  for (const o of observations) {
    const when = o.endedAfterMs === null ? '' : ` after ${formatDuration(o.endedAfterMs)}`
    lines.push(`  idle ${formatDuration(o.idleMs).padStart(8)}  ${OUTCOMES[o.outcome]}${when}`)
  }
  lines.push('')
  if (report.keepAliveHintSeconds !== null) {
    lines.push(
      `Server hint: Keep-Alive: timeout=${report.keepAliveHintSeconds} (s). undici would honour it up to keepAliveMaxTimeout; staleguard caps it at your limit.`,
    )
  }
  if (report.deadFromMs === null) {
    lines.push(
      `Idle limit: none up to ${formatDuration(report.aliveUpToMs ?? options.maxMs)}. Try a larger --max (NAT gateways and NLBs forget flows after 350 s).`,
    )
    return lines.join('\n')
  }
  if (report.aliveUpToMs === null) {
    lines.push(
      `Idle limit: below ${formatDuration(options.minMs)} (even the shortest idle time failed). Try a smaller --min.`,
    )
  } else if (report.observations.some((o) => o.outcome === 'closed-fin')) {
    lines.push(
      `Idle limit: ${formatDuration(report.deadFromMs)}; the hop closes idle connections with a FIN, like nginx, HAProxy, an ALB or a Node server.`,
    )
  } else {
    const how =
      report.closes === 'FIN'
        ? 'closed with a FIN'
        : report.closes === 'silent'
          ? 'silently dropped'
          : 'reset on reuse (RST), like a NAT gateway, NLB or Azure LB'
    lines.push(
      `Idle limit: between ${formatDuration(report.aliveUpToMs)} and ${formatDuration(report.deadFromMs)}; idle connections are ${how}.`,
    )
  }
  if (report.recommended) lines.push('', ...formatSnippets(report.recommended, new URL(report.url).origin))
  lines.push('', `Probed in ${formatDuration(report.elapsedMs)}.`)
  return lines.join('\n')
}

/** The option to set, as the line to paste for core and for each framework adapter. */
function formatSnippets(recommended: NonNullable<ProbeReport['recommended']>, origin: string): string[] {
  const options = `{ upstreamIdleTimeout: ${recommended.upstreamIdleTimeout} }`
  return [
    `Recommended: upstreamIdleTimeout ${recommended.upstreamIdleTimeout} (the measured limit, rounded down); staleguard then retires sockets after ${formatDuration(recommended.keepAliveTimeout)} idle.`,
    '',
    `  core     import { installGlobalDispatcher } from '@staleguard/core'`,
    `           installGlobalDispatcher(${options})`,
    `  Fastify  import fastifyStaleguard from '@staleguard/fastify'`,
    `           await app.register(fastifyStaleguard, ${options})`,
    `  Express  import staleguard from '@staleguard/express'`,
    `           app.use(staleguard(${options}))`,
    `  Koa      import staleguard from '@staleguard/koa'`,
    `           app.use(staleguard(${options}))`,
    '',
    `  For this origin only, in any of them: { origins: { '${origin}': ${options} } }`,
  ]
}
