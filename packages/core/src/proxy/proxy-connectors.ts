import type { Socket } from 'node:net'
import type { Dispatcher, buildConnector as BuildConnector, Pool as UndiciPool } from 'undici'
import { Pool, buildConnector } from '../http/undici.js'
import { withHeadersIfAbsent } from '../http/request-headers.js'
import type { ProxyRoute } from './proxy-plan.js'
import { copyOfOptions } from '../http/options-copy.js'

/** A TLS option the connector types only carry on one branch of their union. */
function servernameOf(options: BuildConnector.BuildOptions | undefined): string | undefined {
  const value = (options as { servername?: unknown } | undefined)?.servername
  return typeof value === 'string' ? value : undefined
}

// How a staleguard pool reaches its target origin through a proxy: the pool stays the target's (its sockets
// are tracked, retired, learned from and retried like direct ones), only the connector changes. A tunnel is
// one TCP connection to the proxy per pooled socket, so a tunnel the proxy forgot is a stale socket like any.

/** The connection pool to one proxy that CONNECT requests go through: each CONNECT takes its socket over. */
export function createProxyClient(route: ProxyRoute): UndiciPool {
  return new Pool(route.url.origin, { connect: buildConnector({ ...route.proxyTls }) })
}

/**
 * Opens each connection as a CONNECT tunnel through the proxy, then TLS inside it for `https:` targets: what
 * undici's ProxyAgent does, with the same request to the proxy.
 */
export function tunnelConnector(
  route: ProxyRoute,
  proxyClient: Dispatcher,
  targetTls: BuildConnector.BuildOptions,
): BuildConnector.connector {
  const connectTls = buildConnector({ ...targetTls })
  return (options, callback) => {
    const target = options.port ? options.host : `${options.host}:${options.protocol === 'https:' ? 443 : 80}`
    proxyClient.connect(
      {
        origin: route.url.origin,
        path: target,
        headers: { ...route.headers, host: options.host, 'proxy-connection': 'keep-alive' },
        servername: servernameOf(route.proxyTls) ?? route.url.hostname,
      } as Dispatcher.ConnectOptions,
      (error, data) => {
        if (error) return callback(error, null)
        const { socket, statusCode } = data
        if (statusCode !== 200) {
          socket.on('error', () => {}).destroy()
          return callback(
            new Error(`staleguard: the proxy ${route.label} answered ${statusCode} to CONNECT ${target}`),
            null,
          )
        }
        if (options.protocol !== 'https:') return callback(null, socket as Socket)
        connectTls(
          { ...options, servername: servernameOf(targetTls) ?? options.servername, httpSocket: socket as Socket },
          callback,
        )
      },
    )
  }
}

/** Connects to the proxy itself, for `http:` targets sent to it in absolute form (`proxyTunnel: false`). */
export function forwardConnector(route: ProxyRoute): BuildConnector.connector {
  const connect = buildConnector({ ...route.proxyTls })
  const { hostname, host, port, protocol } = route.url
  return (options, callback) =>
    connect(
      { ...options, hostname, host, port, protocol, servername: servernameOf(route.proxyTls) ?? hostname },
      callback,
    )
}

/**
 * How requests to an `http:` target are written for a forward proxy: the absolute URL as the path, the
 * proxy's headers added (a caller's own value kept). The pool's Client still writes `Host` for the target
 * (it is the target's pool).
 */
export function forwardRequests(
  route: ProxyRoute,
): (options: Dispatcher.DispatchOptions) => Dispatcher.DispatchOptions {
  const additions = Object.entries(route.headers).map(([name, value]) => [name.toLowerCase(), value] as const)
  return (options) => {
    const path = options.path.startsWith('/')
      ? `${String(options.origin).replace(/\/$/, '')}${options.path}`
      : options.path
    const forwarded = copyOfOptions(options)
    forwarded.path = path
    forwarded.headers = withHeadersIfAbsent(options.headers, additions) as Dispatcher.DispatchOptions['headers']
    return forwarded
  }
}
