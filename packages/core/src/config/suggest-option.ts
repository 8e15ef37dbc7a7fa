/**
 * "Did you mean" for an unknown option key: a known key within a small edit distance (typos, case), or
 * what a name users bring from other libraries is called here. An alias may point into a nested option
 * (`retry: { maxRetries }`); it is offered only when the option it starts with is known where the key was.
 */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  // `idleTimeout` is the hop's idle timeout: the path's for the client, the balancer's in front of the app.
  idletimeout: ['upstreamIdleTimeout', 'behind: { idleTimeout }'],
  upstreamtimeout: ['upstreamIdleTimeout'],
  keepalive: ['keepAliveTimeout'],
  keepalivetimeoutms: ['keepAliveTimeout'],
  idlelimit: ['keepAliveTimeout'],
  maxsockets: ['connections'],
  maxconnections: ['connections'],
  connectionlimit: ['connections'],
  retries: ['retry: { maxRetries }'],
  maxretries: ['retry: { maxRetries }'],
  maxretry: ['maxRetries', 'retry: { maxRetries }'],
  budget: ['retry: { budget }'],
  methods: ['retry: { methods }'],
  maxage: ['maxConnectionAge'],
  connectionttl: ['maxConnectionAge'],
  maxrequests: ['maxRequestsPerConnection'],
  tls: ['connect'],
  ca: ['connect: { ca }'],
  proxyurl: ['proxy'],
  agent: ['dispatcher'],
  global: ['installGlobal'],
  setglobaldispatcher: ['installGlobal'],
  requesttimeout: ['timeout'],
  loadbalancer: ['behind'],
  requestid: ['requestIdHeader'],
}

/** The suggestion for `key` among `known`, written as the user would write it, or undefined. */
export function suggestOption(key: string, known: Iterable<string>): string | undefined {
  const names = [...known]
  const lower = key.toLowerCase()
  const aliased = (ALIASES[lower] ?? []).filter((s) => names.includes(/^\w+/.exec(s)?.[0] ?? ''))
  if (aliased.length > 0) return aliased.map((s) => `\`${s}\``).join(' or ')
  // Short names get one edit, longer ones two, the longest three: beyond that a "suggestion" is more often
  // wrong than right.
  const limit = key.length <= 5 ? 1 : key.length <= 12 ? 2 : 3
  let best: string | undefined
  let bestDistance = limit + 1
  for (const name of names) {
    const distance = editDistance(lower, name.toLowerCase(), limit)
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return best === undefined ? undefined : `\`${best}\``
}

/**
 * Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps), giving up
 * above `limit`: only keys that differ by a typo or two are worth naming.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1)
      current.push(d)
      rowMin = Math.min(rowMin, d)
    }
    if (rowMin > limit) return limit + 1
    before = previous
    previous = current
  }
  return previous[b.length]!
}
