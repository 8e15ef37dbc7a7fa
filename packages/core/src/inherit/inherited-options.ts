import { type StaleguardOptions, StaleguardOptionError } from '../config/options.js'
import { validateOptions } from '../config/resolve-options.js'
import type { InheritedBase, InheritedOptions } from './inherited-base.js'

/** The options a dispatcher runs with: the inherited settings under the ones given, and which given ones won. */
export interface OptionsOverBase {
  readonly options: StaleguardOptions
  /** Inherited settings that an option given to staleguard replaced (`connections`, `connect.ca`…). */
  readonly overridden: readonly string[]
}

/** Options that decide the idle limits together: given any of them, none of the inherited ones apply. */
const IDLE_OPTIONS = ['keepAliveTimeout', 'keepAliveMaxTimeout', 'upstream', 'upstreamIdleTimeout'] as const

/**
 * staleguard's own options win where both say something; `connect` is merged key by key. An inherited value
 * staleguard does not accept (a timeout past its range, say) fails here, saying where it came from.
 */
export function optionsOverBase(given: StaleguardOptions, base: InheritedBase): OptionsOverBase {
  const inherited: InheritedOptions = base.options
  const merged: StaleguardOptions = Object.assign({}, given)
  const overridden: string[] = []
  const takeOver = <K extends keyof InheritedOptions>(key: K): void => {
    if (inherited[key] === undefined) return
    if (given[key] === undefined) merged[key] = inherited[key]
    else overridden.push(key)
  }
  for (const key of ['connections', 'headersTimeout', 'bodyTimeout', 'allowH2'] as const) takeOver(key)
  for (const key of ['maxRequestsPerConnection', 'maxConnectionAge'] as const) takeOver(key)
  const idleGiven = IDLE_OPTIONS.some((key) => given[key] !== undefined)
  for (const key of ['keepAliveTimeout', 'keepAliveMaxTimeout'] as const) {
    if (inherited[key] === undefined) continue
    if (idleGiven) overridden.push(key)
    else merged[key] = inherited[key]
  }
  // undici retires an idle socket at keepAliveTimeout whatever its max; staleguard wants max ≥ the timeout.
  if (!idleGiven && merged.keepAliveTimeout === undefined && merged.keepAliveMaxTimeout !== undefined)
    merged.keepAliveTimeout = Math.min(4_000, merged.keepAliveMaxTimeout)
  if (inherited.connect !== undefined) {
    const givenConnect = (given.connect ?? {}) as Record<string, unknown>
    for (const name of Object.keys(inherited.connect)) if (name in givenConnect) overridden.push(`connect.${name}`)
    merged.connect = Object.assign({}, inherited.connect, givenConnect)
  }
  if (base.connector !== null && given.connect !== undefined) overridden.push('connect (a connector function)')
  if (base.proxy !== null && given.proxy !== undefined && base.source.startsWith('EnvHttpProxyAgent'))
    overridden.push('proxy')
  try {
    validateOptions(merged)
  } catch (error) {
    const option = (error as { option?: unknown }).option
    if (!(error instanceof StaleguardOptionError) || !isInherited(option, inherited)) throw error
    throw new StaleguardOptionError(
      String(option),
      `${error.message.replace(/^staleguard: option `[^`]*` /, '').replace(/ \(got [^)]*\)$/, '')}; the value was ` +
        `inherited from the global dispatcher in place (${base.source}): give your own, or inherit: false`,
      (merged as Record<string, unknown>)[String(option)],
    )
  }
  return { options: merged, overridden }
}

function isInherited(option: unknown, inherited: InheritedOptions): boolean {
  if (typeof option !== 'string') return false
  const top = option.split('.')[0] as keyof InheritedOptions
  return inherited[top] !== undefined
}
