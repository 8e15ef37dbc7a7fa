/**
 * The demo: the same traffic, bursts separated by idle gaps, sent through each lab hop by three clients at
 * once: Node's plain global fetch, the usual manual fix, and staleguard. The upstream counts what arrived,
 * so lost and duplicated requests are facts, not guesses.
 */
import { INTERMEDIARY_IDLE_TIMEOUTS, createFetch, formatProbeReport, probeIdleLimit } from '@staleguard/core'
import {
  HOP_DESCRIPTIONS,
  type Hop,
  type HopKind,
  type LabClient,
  type Workload,
  fetchClient,
  findTool,
  manualFixClient,
  plainFetchClient,
  runWorkload,
  startFaultProxy,
  startHop,
  startUpstream,
} from '@staleguard/lab'

interface Row {
  readonly hop: HopKind
  readonly requests: string
  readonly client: string
  readonly sent: number
  readonly lost: number
  readonly duplicated: number
  readonly retries: string
  readonly firstAttemptFailures: string
}

/**
 * Why a scenario can end with 0 in every column for every client, said under the table when it does. nginx
 * nearly always does on loopback: its close reaches the client at once, so the race it causes in production
 * (a request sent while the close is still on the wire) has almost no window here.
 */
const WHY_NOTHING_FAILED: Record<HopKind, string> = {
  nginx:
    "nginx closes an idle connection with a FIN, and on loopback the FIN arrives microseconds after nginx's timer fires: a request sent a moment later finds the connection already closed and goes out on a new one. A request is lost only if it leaves while the FIN is still on its way (or not yet read by the client's event loop): here that window is microseconds wide; across a real network it is the one-way delay between the hosts, a millisecond or more, which steady traffic hits day after day. The fin-race scenario is that race with the FIN held back 150 ms.",
  haproxy:
    'HAProxy closes an idle connection with a FIN, which on loopback reaches the client at once: the race needs the FIN to be in flight (see fin-race).',
  'silent-drop': 'no burst landed on a flow the hop had forgotten this time; the timing decides, run the demo again.',
  'fin-race': 'no request crossed the FIN this time; the timing decides, run the demo again.',
}

const WORKLOADS: readonly (Workload & { readonly label: string })[] = [
  { label: 'GET ×8 in parallel', method: 'GET', shape: 'parallel', bursts: 8, burstSize: 8 },
  { label: 'POST ×8 one by one', method: 'POST', shape: 'sequential', bursts: 8, burstSize: 8 },
]

async function main(): Promise<void> {
  const started = performance.now()
  console.log(
    [
      'staleguard demo: the same bursts of requests, separated by idle gaps, sent by three clients side by side',
      '(plain fetch, the usual manual fix, staleguard) through hops that forget idle connections, as load',
      'balancers, NAT gateways and proxies do. The upstream counts every request it receives.\n',
    ].join('\n'),
  )
  const upstream = await startUpstream()
  const rows: Row[] = []
  const hops: HopKind[] = ['silent-drop', 'fin-race', 'nginx']
  for (const kind of hops) {
    if (kind === 'nginx' && findTool('nginx') === null) {
      console.log(
        'nginx is not installed: skipping its scenario (sudo apt-get install nginx-light, or `pnpm tools`).\n',
      )
      continue
    }
    const hop = (await startHop(kind, upstream)) as Hop
    process.stdout.write(`• ${kind}: ${HOP_DESCRIPTIONS[kind]} … `)
    for (const workload of WORKLOADS) {
      const staleguard = createFetch()
      const clients: LabClient[] = [
        plainFetchClient(),
        manualFixClient(),
        fetchClient('staleguard', staleguard, () => staleguard.dispatcher.close()),
      ]
      // The three clients run side by side: same hop, same gaps, separate connections.
      const results = await Promise.all(clients.map((client) => runWorkload(client, hop, upstream, workload)))
      const stats = staleguard.dispatcher.stats()
      clients.forEach((client, i) => {
        const r = results[i]!
        const attempts = client.attempts?.() ?? { retries: stats.retries, firstAttemptFailures: stats.staleFailures }
        rows.push({
          hop: kind,
          requests: workload.label,
          client: client.name,
          sent: r.sent,
          lost: r.lost,
          duplicated: r.duplicated,
          retries: String(attempts.retries),
          firstAttemptFailures: String(attempts.firstAttemptFailures),
        })
      })
      await Promise.all(clients.map((c) => c.close()))
    }
    console.log('done')
    await hop.close()
  }
  printTable(rows)
  explainQuietScenarios(rows)

  // How would a user know the hop's limit in the first place? Ask it.
  const natLimitMs = 700
  const nat = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: natLimitMs })
  console.log(
    `\n\`staleguard probe\` against a lab hop that forgets idle flows after ${natLimitMs} ms (as a NAT gateway does after 350 s):\n`,
  )
  const probe = { minMs: 200, maxMs: 2_000, parallel: 4 }
  const report = await probeIdleLimit(`${nat.origin}/health`, probe)
  console.log(formatProbeReport(report, probe).replace(/^/gm, '  '))
  await nat.close()
  await upstream.close()
  console.log(`
What you just saw:
• "lost" is a request whose caller got an error (or a 5xx) instead of a response; "duplicated" is one the
  upstream received twice. Plain fetch loses requests whenever a burst lands on sockets a hop has already
  dropped. The manual fix (4 s keep-alive + one GET retry on ECONNRESET) cannot help when the hop forgets
  sooner than 4 s, misses UND_ERR_SOCKET (the FIN race), and never saves POSTs.
• staleguard retries a request only when it died on a reused socket before any response byte and is safe
  to send twice (GET/PUT/DELETE…, or an Idempotency-Key), on a new connection. A POST without a key is never
  sent twice (duplicated stays 0), and it never fails either: it is only written on a socket idle for less
  than the hop has been seen to keep one (a GET or POST answered after that long), else on a new connection
  (one per POST in flight after a gap, none under steady traffic). After the first stale failure it learns
  the hop's idle limit and retires sockets before it, so later gaps cost nothing ("first-attempt failures"
  stops growing).
• Tell staleguard the path up front (upstreamIdleTimeout, or an upstream preset) and even the first burst
  is safe. \`npx staleguard probe <url>\` measures that limit for you, as above: it leaves connections idle
  for chosen times and sees whether they come back, are closed (FIN) or are reset on reuse (RST).
${IN_YOUR_APP}
Finished in ${((performance.now() - started) / 1000).toFixed(1)} s.`)
}

/** What to do next, in the reader's own app: one line per entry point, with the option that matters. */
const IN_YOUR_APP = `
In your app, once at boot (\`upstream\` names the shortest idle timeout between your app and the upstream):

  core     import { installGlobalDispatcher } from '@staleguard/core'
           installGlobalDispatcher({ upstream: 'aws-alb' })            // every fetch in the process
  Fastify  import fastifyStaleguard from '@staleguard/fastify'
           await app.register(fastifyStaleguard, { upstream: 'aws-alb' }) // then request.fetch(url) in handlers
  Express  import staleguard from '@staleguard/express'
           app.use(staleguard({ upstream: 'aws-alb' }))                 // then req.fetch(url)
  Koa      import staleguard from '@staleguard/koa'
           app.use(staleguard({ upstream: 'aws-alb' }))                 // then ctx.fetch(url)

  Presets: ${Object.keys(INTERMEDIARY_IDLE_TIMEOUTS).join(', ')};
  or { upstreamIdleTimeout: ms }, which \`npx staleguard probe <url>\` measures. Give a POST that is safe to
  repeat an Idempotency-Key header so it can be retried, and run with NODE_DEBUG=staleguard to see every
  stale failure, retry and learned limit as it happens.`

/**
 * A note under the table for each scenario with request kinds where no client had a single failure (0 in
 * every column), once per scenario: those rows say the hop did not race this time, not that nothing can go wrong.
 */
function explainQuietScenarios(rows: readonly Row[]): void {
  const quiet = new Map<HopKind, string[]>()
  for (const row of rows) {
    const group = rows.filter((r) => r.hop === row.hop && r.requests === row.requests)
    const allZero = group.every((r) => r.lost === 0 && r.retries === '0' && r.firstAttemptFailures === '0')
    const labels = quiet.get(row.hop) ?? []
    if (allZero && !labels.includes(row.requests)) quiet.set(row.hop, [...labels, row.requests])
  }
  for (const [hop, labels] of quiet)
    console.log(`\n${wrap(`${hop}, ${labels.join(' and ')}: 0 for every client. ${WHY_NOTHING_FAILED[hop]}`)}`)
}

/** Wraps a paragraph to 110 columns, like the rest of the output. */
function wrap(text: string): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > 110) {
      lines.push(line)
      line = word
    } else {
      line = line ? `${line} ${word}` : word
    }
  }
  return [...lines, line].join('\n')
}

function printTable(rows: readonly Row[]): void {
  const header = ['scenario', 'requests', 'client', 'sent', 'lost', 'duplicated', 'retries', 'first-attempt failures']
  const cells = rows.map((r) => [
    r.hop,
    r.requests,
    r.client,
    String(r.sent),
    String(r.lost),
    String(r.duplicated),
    r.retries,
    r.firstAttemptFailures,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: readonly string[]) =>
    values.map((v, i) => (i >= 3 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ')
  console.log(`\n${line(header)}\n${widths.map((w) => '─'.repeat(w)).join('  ')}`)
  let previous = ''
  for (const row of cells) {
    const group = `${row[0]}|${row[1]}`
    if (previous && group !== previous) console.log('')
    previous = group
    console.log(line(row))
  }
}

await main()
