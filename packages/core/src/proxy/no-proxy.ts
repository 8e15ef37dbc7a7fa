/**
 * `NO_PROXY` as undici's `EnvHttpProxyAgent` reads it, so a target that went direct before staleguard still
 * does: entries split on commas or spaces, `host` or `host:port`, a leading `.` or `*.` ignored, a host also
 * covering its subdomains, `*` alone covering everything; matched case-insensitively on the host, and on the
 * port when the entry names one.
 */
export interface NoProxyRules {
  /** Whether a request to this URL goes direct. */
  bypasses(url: URL): boolean
}

interface Entry {
  readonly hostname: string
  readonly port: number
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 }

export function parseNoProxy(value: string): NoProxyRules {
  const everything = value.trim() === '*'
  const entries: Entry[] = []
  for (const part of value.split(/[,\s]/)) {
    if (part === '') continue
    const withPort = /^(.+):(\d+)$/.exec(part)
    entries.push({
      hostname: (withPort ? (withPort[1] as string) : part).replace(/^\*?\./, '').toLowerCase(),
      port: withPort ? Number.parseInt(withPort[2] as string, 10) : 0,
    })
  }
  return {
    bypasses(url) {
      if (entries.length === 0) return false
      if (everything) return true
      // `host` keeps IPv6 brackets, as the entries are written.
      const hostname = url.host.replace(/:\d*$/, '').toLowerCase()
      const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0
      return entries.some(
        (entry) =>
          (entry.port === 0 || entry.port === port) &&
          (hostname === entry.hostname || hostname.endsWith(`.${entry.hostname}`)),
      )
    },
  }
}

/** The environment's `NO_PROXY`, read again whenever it changes, as `EnvHttpProxyAgent` does. */
export function noProxyFromEnvironment(): NoProxyRules {
  let value: string | null = null
  let rules = parseNoProxy('')
  return {
    bypasses(url) {
      const now = process.env.no_proxy ?? process.env.NO_PROXY ?? ''
      if (now !== value) {
        value = now
        rules = parseNoProxy(now)
      }
      return rules.bypasses(url)
    },
  }
}
