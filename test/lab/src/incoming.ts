import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface IncomingExchange {
  readonly req: http.IncomingMessage
  /** Stays open until the test ends it: a request scope ties itself to it. */
  readonly res: http.ServerResponse
  /** The client goes away (a disconnect, if `res` has not ended) and the server closes. */
  close(): void
}

/** A real incoming request on a loopback server, for tests that open a request scope on it. */
export async function incomingExchange(): Promise<IncomingExchange> {
  const server = http.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const arrived = once(server, 'request') as Promise<[http.IncomingMessage, http.ServerResponse]>
  const client = http.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { agent: false }, (response) =>
    response.resume(),
  )
  client.on('error', () => {})
  const [req, res] = await arrived
  return {
    req,
    res,
    close: () => {
      client.destroy()
      server.closeAllConnections()
      server.close()
    },
  }
}

/** A version-4 UUID, the shape of the request id staleguard gives a request that arrived without one. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
