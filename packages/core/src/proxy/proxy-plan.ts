import type { buildConnector } from 'undici'
import { type ProxyOption, type ProxySettings, StaleguardOptionError } from '../config/options.js'
import { type NoProxyRules, noProxyFromEnvironment } from './no-proxy.js'

/** One forward proxy, as the connectors need it. */
export interface ProxyRoute {
  readonly url: URL
  /** The proxy's origin, credentials left out: what logs and `stats()` show. */
  readonly label: string
  /** Sent to the proxy: `Proxy-Authorization` and the user's proxy headers. */
  readonly headers: Readonly<Record<string, string>>
  readonly proxyTls: buildConnector.BuildOptions | undefined
  readonly requestTls: buildConnector.BuildOptions | undefined
  /** Whether `http:` targets go through a CONNECT tunnel (`https:` targets always do). */
  readonly tunnel: boolean
}

/** Which proxy, if any, each target origin goes through. */
export interface ProxyPlan {
  /** The route for a target origin (`https://api.example`), or null to go direct. */
  routeFor(origin: URL): ProxyRoute | null
}

const SETTINGS_KEYS = new Set(['uri', 'token', 'headers', 'proxyTls', 'requestTls', 'proxyTunnel'])

/**
 * The plan for the `proxy` option given, or, when none is, for what the process did without staleguard: the
 * route of the dispatcher in place (`inherited`: an `EnvHttpProxyAgent`'s own proxies and `noProxy`, direct for
 * an Agent, a staleguard dispatcher's own plan), else Node's switch for reading the environment.
 */
export function planProxy(option: ProxyOption | undefined, inherited: ProxyPlan | null): ProxyPlan {
  if (option !== undefined) return planFor(option)
  if (inherited !== null) return inherited
  return planFor(nodeReadsProxyEnvironment() ? 'env' : false)
}

/** Node 22.21+ and 24+ send fetch through the environment's proxy with `NODE_USE_ENV_PROXY=1` or the flag. */
function nodeReadsProxyEnvironment(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
  if (major < 22 || (major === 22 && minor < 21)) return false
  const flag = (args: readonly string[]): boolean => args.includes('--use-env-proxy')
  return (
    process.env.NODE_USE_ENV_PROXY === '1' ||
    flag(process.execArgv) ||
    flag((process.env.NODE_OPTIONS ?? '').split(/\s+/))
  )
}

function planFor(option: ProxyOption): ProxyPlan {
  if (option === false) return { routeFor: () => null }
  if (option === 'env') return environmentPlan()
  const route = routeFrom(option, 'proxy')
  return { routeFor: () => route }
}

/** `HTTP_PROXY` / `HTTPS_PROXY` read once, as `EnvHttpProxyAgent` does at construction; `NO_PROXY` live. */
function environmentPlan(): ProxyPlan {
  const env = process.env
  const httpUri = env.http_proxy ?? env.HTTP_PROXY
  const httpsUri = env.https_proxy ?? env.HTTPS_PROXY
  const http = httpUri ? routeFrom(httpUri, 'HTTP_PROXY') : null
  const https = httpsUri ? routeFrom(httpsUri, 'HTTPS_PROXY') : http
  const noProxy: NoProxyRules = noProxyFromEnvironment()
  return {
    routeFor(origin) {
      const route = origin.protocol === 'https:' ? https : http
      if (route === null || noProxy.bypasses(origin)) return null
      return route
    },
  }
}

/** A route to one proxy, from its URL or settings; `name` is the option named when they are wrong. */
export function routeFrom(option: string | URL | ProxySettings, name: string): ProxyRoute {
  const settings: ProxySettings =
    typeof option === 'string' || option instanceof URL ? { uri: option } : checkSettings(option, name)
  let url: URL
  try {
    url = new URL(String(settings.uri))
  } catch {
    throw new StaleguardOptionError(name, 'must be a proxy URL such as http://proxy.internal:3128', settings.uri)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StaleguardOptionError(name, 'must be an http: or https: proxy URL (SOCKS is not supported)', String(url))
  }
  const headers: Record<string, string> = { ...settings.headers }
  if (settings.token !== undefined) headers['proxy-authorization'] = settings.token
  else if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`
  }
  return {
    url,
    label: url.origin,
    headers,
    proxyTls: settings.proxyTls,
    requestTls: settings.requestTls,
    tunnel: settings.proxyTunnel ?? true,
  }
}

function checkSettings(value: unknown, name: string): ProxySettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StaleguardOptionError(name, "must be 'env', a proxy URL, proxy settings ({ uri, … }) or false", value)
  }
  const settings = value as Record<string, unknown>
  for (const key of Object.keys(settings)) {
    if (!SETTINGS_KEYS.has(key))
      throw new StaleguardOptionError(
        `${name}.${key}`,
        `is not a proxy setting; known: ${[...SETTINGS_KEYS].join(', ')}`,
        settings[key],
      )
  }
  if (typeof settings.uri !== 'string' && !(settings.uri instanceof URL))
    throw new StaleguardOptionError(`${name}.uri`, 'must be the proxy URL', settings.uri)
  if (settings.token !== undefined && typeof settings.token !== 'string')
    throw new StaleguardOptionError(`${name}.token`, 'must be a string (the Proxy-Authorization value)', settings.token)
  for (const key of ['headers', 'proxyTls', 'requestTls'] as const) {
    const field = settings[key]
    if (field !== undefined && (typeof field !== 'object' || field === null || Array.isArray(field)))
      throw new StaleguardOptionError(`${name}.${key}`, 'must be an object', field)
  }
  if (settings.proxyTunnel !== undefined && typeof settings.proxyTunnel !== 'boolean')
    throw new StaleguardOptionError(`${name}.proxyTunnel`, 'must be true or false', settings.proxyTunnel)
  return settings as unknown as ProxySettings
}
