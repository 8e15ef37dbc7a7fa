import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createFetch } from '@staleguard/core'
import { createTestCertificate } from '@staleguard/lab'
import { Agent } from 'undici'
import { type Contender, compare, pinToCpu } from './harness.js'

/** Node's own fetch speaks HTTP/2 from undici 8 (Node 26) on. */
const runtimeOffersH2 = Number(process.versions.undici?.split('.')[0] ?? 0) >= 8

/**
 * HTTP/2 against a `node:http2` TLS upstream in its own process, 32 in flight: `createFetch({ allowH2: true })`
 * against the runtime's own fetch where it speaks h2 (Node 26: its default dispatcher), else against fetch
 * with an undici 7 Agent given `allowH2` (which opens one session per request in flight). Requests per second
 * and CPU per request, then the sessions each side opened at the server for the same traffic.
 */
export async function benchHttp2(options: { rounds: number; perRound: number; inFlight: number }) {
  const certificate = createTestCertificate()
  // The runtime's default dispatcher takes no CA of ours: trust the test certificate for this process.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
  const child = fork(fileURLToPath(new URL('./http2-upstream.mjs', import.meta.url)), {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_KEY: certificate.key, BENCH_CERT: certificate.cert },
  })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  if (child.pid !== undefined) pinToCpu(child.pid, 1)
  pinToCpu(process.pid, 0)
  const origin = `https://127.0.0.1:${chunk.toString().trim()}`
  const sessions = async () => {
    child.send('sessions')
    const [reply] = (await once(child, 'message')) as [{ sessions: number }]
    return reply.sessions
  }
  const agent = runtimeOffersH2 ? null : new Agent({ allowH2: true, connect: { ca: certificate.cert } })
  const peerName = agent === null ? `Node ${process.versions.node} fetch` : 'fetch + Agent({ allowH2 })'
  const staleguardFetch = createFetch({ allowH2: true, connect: { ca: certificate.cert } })
  const peer: Contender = {
    name: peerName,
    send: () =>
      (agent === null
        ? fetch(`${origin}/items`)
        : fetch(`${origin}/items`, { dispatcher: agent } as unknown as RequestInit)
      ).then((r) => r.arrayBuffer()),
  }
  const mine: Contender = {
    name: 'createFetch({ allowH2 })',
    send: () => staleguardFetch(`${origin}/items`).then((r) => r.arrayBuffer()),
  }
  // Sessions first, each side alone on the same burst of traffic, then the paired throughput rounds.
  const before = await sessions()
  for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: options.inFlight }, () => peer.send()))
  const peerSessions = (await sessions()) - before
  for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: options.inFlight }, () => mine.send()))
  const mySessions = (await sessions()) - before - peerSessions
  console.log(
    `\nHTTP/2 sessions for ${options.inFlight} in flight: ${peerName} ${peerSessions}, staleguard ${mySessions}`,
  )
  const result = await compare(`createFetch vs ${peerName} over HTTP/2`, [peer, mine], options)
  await Promise.all([agent?.close(), staleguardFetch.dispatcher.close()])
  child.disconnect()
  certificate.remove()
  return { ...result, peerName, peerSessions, mySessions }
}
