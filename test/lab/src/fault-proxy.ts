import { once } from 'node:events'
import net from 'node:net'

/**
 * How the proxy treats idle flows, modelled on real hops:
 * - `rst-after-idle`: a NAT gateway / NLB / Azure LB forgets flows idle longer than `idleMs` without telling
 *   anyone; the next packet from the client gets an RST and never reaches the upstream.
 * - `fin-race`: a proxy closes flows idle for `idleMs`, and its FIN takes `finDelayMs` to reach the client
 *   (one-way latency). A request the client sends inside that window crosses the FIN: it is dropped and the
 *   client then sees the close. This is the race the idle-timeout mismatch causes in production.
 * - `reset-reused`: every request after the first on a connection is answered with an RST (an upstream
 *   that is effectively dead for pooled connections).
 * - `reset-all`: every request is answered with an RST, new connections included (a dead upstream).
 * - `pass`: forwards everything.
 * In every mode a response carrying `x-lab-reset-mid-body: 1` is cut with an RST after its headers and the
 * first body bytes (a failure mid-body).
 */
export type FaultMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'rst-after-idle'; readonly idleMs: number }
  | { readonly kind: 'fin-race'; readonly idleMs: number; readonly finDelayMs: number }
  | { readonly kind: 'reset-reused' }
  | { readonly kind: 'reset-all' }

export interface FaultProxyStats {
  flows: number
  /** RSTs sent to clients for idle or dead flows. */
  resets: number
  /** FINs sent to clients for idle flows. */
  fins: number
  /** Client requests that died in the proxy and never reached the upstream. */
  droppedRequests: number
  midBodyResets: number
}

export interface FaultProxy {
  readonly origin: string
  readonly port: number
  readonly stats: FaultProxyStats
  mode: FaultMode
  /** The upstream port new flows connect to (the flows already open stay where they are): a backend replaced. */
  targetPort: number
  /** Flows currently open. */
  readonly openFlows: number
  close(): Promise<void>
}

const REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/
const MID_BODY_MARKER = 'x-lab-reset-mid-body: 1'

export async function startFaultProxy(target: { host?: string; port: number }, mode: FaultMode): Promise<FaultProxy> {
  const stats: FaultProxyStats = { flows: 0, resets: 0, fins: 0, droppedRequests: 0, midBodyResets: 0 }
  const flows = new Set<net.Socket>()
  let currentMode = mode
  let targetPort = target.port

  const server = net.createServer((client) => {
    stats.flows++
    flows.add(client)
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: targetPort })
    let lastActivity = performance.now()
    let requests = 0
    let dead = false
    let idleTimer: NodeJS.Timeout | null = null

    const killWithReset = (): void => {
      dead = true
      client.resetAndDestroy()
      upstream.destroy()
    }

    const armIdleClose = (): void => {
      if (currentMode.kind !== 'fin-race') return
      const { idleMs, finDelayMs } = currentMode
      if (idleTimer) clearTimeout(idleTimer)
      idleTimer = setTimeout(() => {
        // The proxy has closed the flow; the client learns of it only finDelayMs later.
        dead = true
        upstream.destroy()
        setTimeout(() => {
          if (client.destroyed) return
          stats.fins++
          client.end()
          setTimeout(() => client.destroy(), 50).unref()
        }, finDelayMs).unref()
      }, idleMs)
      idleTimer.unref()
    }

    const touch = (): void => {
      lastActivity = performance.now()
      armIdleClose()
    }

    client.on('data', (chunk: Buffer) => {
      const startsRequest = REQUEST_LINE.test(chunk.subarray(0, 64).toString('latin1'))
      if (dead) {
        if (startsRequest) stats.droppedRequests++
        return
      }
      const m = currentMode
      const idleTooLong = m.kind === 'rst-after-idle' && performance.now() - lastActivity > m.idleMs
      const refuse = startsRequest && (m.kind === 'reset-all' || (m.kind === 'reset-reused' && requests > 0))
      if (idleTooLong || refuse) {
        if (startsRequest) stats.droppedRequests++
        stats.resets++
        killWithReset()
        return
      }
      if (startsRequest) requests++
      touch()
      upstream.write(chunk)
    })

    upstream.on('data', (chunk: Buffer) => {
      if (dead) return
      const marker = chunk.indexOf(MID_BODY_MARKER)
      if (marker !== -1) {
        const headersEnd = chunk.indexOf('\r\n\r\n', marker)
        client.write(chunk.subarray(0, headersEnd === -1 ? chunk.length : headersEnd + 4 + 100), () => {
          stats.midBodyResets++
          killWithReset()
        })
        dead = true
        return
      }
      touch()
      client.write(chunk)
    })

    upstream.on('end', () => client.end())
    client.on('end', () => upstream.end())
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => {
      flows.delete(client)
      if (idleTimer) clearTimeout(idleTimer)
      upstream.destroy()
    })
    upstream.on('close', () => {
      if (!dead) client.destroy()
    })
    touch()
  })

  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    stats,
    get mode() {
      return currentMode
    },
    set mode(next: FaultMode) {
      currentMode = next
    },
    get targetPort() {
      return targetPort
    },
    set targetPort(port: number) {
      targetPort = port
    },
    get openFlows() {
      return flows.size
    },
    async close() {
      for (const flow of flows) flow.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}
