import type { ProxySettings } from '../config/options.js'
import { readNamed, symbolNamed } from '../http/undici-internals.js'
import { type ProxyPlan, type ProxyRoute, routeFrom } from '../proxy/proxy-plan.js'

/**
 * What an `EnvHttpProxyAgent` goes through. It keeps its `httpProxy` / `httpsProxy` as the ProxyAgents it
 * built for them, and its `noProxy` in private fields: staleguard reads the proxies from those agents and
 * asks the agent itself which of its three agents (direct, http, https) it would hand each origin to. So the
 * agent's own settings are kept, and NO_PROXY from the environment is read again as the agent does.
 */
export function envProxyPlan(agent: object): ProxyPlan {
  const slots = {
    direct: symbolNamed(agent, 'no proxy agent'),
    http: symbolNamed(agent, 'http proxy agent'),
    https: symbolNamed(agent, 'https proxy agent'),
  }
  const dispatchKey = symbolNamed(agent, 'dispatch')
  const fields = agent as Record<symbol, unknown>
  if (slots.direct === undefined || slots.http === undefined || slots.https === undefined || !dispatchKey)
    throw new TypeError('staleguard: this EnvHttpProxyAgent keeps its agents where staleguard cannot find them')
  const direct = fields[slots.direct]
  const http = fields[slots.http]
  const https = fields[slots.https]
  const httpRoute = http === direct ? null : routeFrom(proxySettingsOf(http as object), 'httpProxy')
  const httpsRoute =
    https === direct ? null : https === http ? httpRoute : routeFrom(proxySettingsOf(https as object), 'httpsProxy')
  const routes = new Map<symbol, ProxyRoute | null>([
    [slots.direct, null],
    [slots.http, httpRoute],
    [slots.https, httpsRoute],
  ])
  const dispatch = fields[dispatchKey] as (this: object, options: object, handler: object) => unknown
  return {
    routeFor(origin) {
      // Stand-ins in the three slots for the length of one synchronous dispatch: the one it calls is the
      // agent the EnvHttpProxyAgent chose, by its own rules (its private `#getProxyAgentForUrl`).
      let chosen: symbol | null = null
      const saved = [...routes.keys()].map((slot) => [slot, fields[slot]] as const)
      try {
        for (const slot of routes.keys()) {
          fields[slot] = {
            dispatch: () => {
              chosen ??= slot
              return true
            },
          }
        }
        dispatch.call(agent, { origin: origin.origin, path: '/', method: 'GET' }, {})
      } finally {
        for (const [slot, value] of saved) fields[slot] = value
      }
      return chosen === null ? null : (routes.get(chosen) ?? null)
    },
  }
}

/**
 * A ProxyAgent's settings, in the words of staleguard's `proxy` option: its URL, the headers it sends the
 * proxy (`Proxy-Authorization` included, however it was given), its TLS options and whether it tunnels.
 */
export function proxySettingsOf(agent: object): ProxySettings {
  const proxy = readNamed(agent, 'proxy agent options') as { uri?: unknown } | undefined
  if (typeof proxy?.uri !== 'string') throw new TypeError('staleguard: this ProxyAgent keeps no proxy URL')
  const settings: ProxySettings = { uri: proxy.uri }
  const headers = readNamed(agent, 'proxy headers')
  if (typeof headers === 'object' && headers !== null && Object.keys(headers).length > 0)
    settings.headers = { ...(headers as Record<string, string>) }
  const requestTls = readNamed(agent, 'request tls settings')
  if (typeof requestTls === 'object' && requestTls !== null)
    settings.requestTls = requestTls as ProxySettings['requestTls']
  const proxyTls = readNamed(agent, 'proxy tls settings')
  if (typeof proxyTls === 'object' && proxyTls !== null) settings.proxyTls = proxyTls as ProxySettings['proxyTls']
  const tunnel = readNamed(agent, 'tunnel proxy')
  if (typeof tunnel === 'boolean') settings.proxyTunnel = tunnel
  return settings
}
