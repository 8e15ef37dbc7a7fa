import type { ProbeObservation, ProbeProgress, ProbeReport } from './probe-idle-limit.js'

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
  } else if (report.closes === 'FIN' && report.recommended?.upstreamIdleTimeout === report.deadFromMs) {
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
  const r = report.recommended
  if (r) {
    const origin = new URL(report.url).origin
    lines.push(
      '',
      `Recommended: upstreamIdleTimeout ${r.upstreamIdleTimeout} (staleguard then retires sockets after ${formatDuration(r.keepAliveTimeout)} idle):`,
      `  core     installGlobalDispatcher({ upstreamIdleTimeout: ${r.upstreamIdleTimeout} })`,
      `  Fastify  await app.register(fastifyStaleguard, { upstreamIdleTimeout: ${r.upstreamIdleTimeout} })`,
      `  Express  app.use(staleguard({ upstreamIdleTimeout: ${r.upstreamIdleTimeout} }))`,
      `  Koa      app.use(staleguard({ upstreamIdleTimeout: ${r.upstreamIdleTimeout} }))`,
      `  only this origin: origins: { '${origin}': { upstreamIdleTimeout: ${r.upstreamIdleTimeout} } }`,
    )
  }
  lines.push('', `Probed in ${formatDuration(report.elapsedMs)}.`)
  return lines.join('\n')
}
