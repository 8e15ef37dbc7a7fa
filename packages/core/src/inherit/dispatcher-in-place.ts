import type { Dispatcher } from 'undici'
import { StaleguardOptionError } from '../config/options.js'
import { SLOT_V1, SLOT_V2, dispatcherName, slots } from '../http/global-slots.js'
import { readNamed } from '../http/undici-internals.js'
import { agentOptionsOf, baseFromAgentOptions, hasDefaultFactory, negotiatesH2ByDefault } from './agent-settings.js'
import type { InheritedBase } from './inherited-base.js'
import { envProxyPlan } from './proxy-agents.js'

/**
 * What a staleguard dispatcher is built to stand in for: the global dispatcher in place when it is made.
 * - `readable`: an undici Agent or EnvHttpProxyAgent (any copy), composed with interceptors or not, whose
 *   settings are taken over (`composed`: the interceptors are kept too, where staleguard is installed);
 * - `staleguard`: a staleguard dispatcher, which hands on what it was built on;
 * - `nothing`: no dispatcher yet, or a MockAgent (staleguard stands aside for it where it would replace it).
 * Anything else is refused: replacing it would change where requests go or how, without a word.
 */
export type DispatcherInPlace =
  | { readonly kind: 'readable'; readonly dispatcher: object; readonly base: InheritedBase; readonly composed: boolean }
  | { readonly kind: 'staleguard'; readonly base: InheritedBase }
  | { readonly kind: 'nothing' }

/** What a staleguard dispatcher hands on to one built after it (any copy of this package). */
export const kInheritedBase = Symbol.for('staleguard.inheritedBase.v1')

/** undici 8 keeps the dispatcher in `.2` and, for Node 20–24's fetch, a wrapper around it in `.1`. */
const WRAPPER = 'Dispatcher1Wrapper'
/**
 * What each undici 8 wrapper seen in `.1` wraps (its dispatcher is a private field): the `.2` beside it. An app
 * that saves `getGlobalDispatcher()` from npm undici 7 on Node 26 saves the wrapper, and putting it back puts
 * it in both slots; what it wraps is then known only from having seen the two together.
 */
const wrapped = new WeakMap<object, object>()

function rememberWrapperInPlace(): void {
  const legacy = slots[SLOT_V1]
  const current = slots[SLOT_V2]
  if (typeof legacy !== 'object' || legacy === null || typeof current !== 'object' || current === null) return
  if (dispatcherName(legacy) === WRAPPER && dispatcherName(current) !== WRAPPER) wrapped.set(legacy, current)
}
rememberWrapperInPlace()

/**
 * Reads the dispatcher in place; refuses, naming what to pass, one whose settings cannot be read. A ProxyAgent
 * is taken over only when the `proxy` option says where to go instead (`proxyGiven`), and then nothing of it is.
 */
export function readDispatcherInPlace(inPlace: unknown, proxyGiven: boolean): DispatcherInPlace {
  if (typeof inPlace !== 'object' || inPlace === null) return { kind: 'nothing' }
  const handedOn = (inPlace as { [kInheritedBase]?: unknown })[kInheritedBase]
  if (typeof handedOn === 'object' && handedOn !== null) return { kind: 'staleguard', base: handedOn as InheritedBase }
  if (isMockAgent(inPlace)) return { kind: 'nothing' }
  rememberWrapperInPlace()
  let name = dispatcherName(inPlace)
  let dispatcher: object = inPlace
  const inner = name === WRAPPER ? wrapped.get(inPlace) : undefined
  if (inner !== undefined) {
    dispatcher = inner
    name = dispatcherName(dispatcher)
    const handedOnInside = (inner as { [kInheritedBase]?: unknown })[kInheritedBase]
    if (typeof handedOnInside === 'object' && handedOnInside !== null)
      return { kind: 'staleguard', base: handedOnInside as InheritedBase }
  }
  const composed = isComposed(dispatcher)
  if (name === 'Agent') return { kind: 'readable', dispatcher, base: agentBase(dispatcher, composed), composed }
  if (name === 'EnvHttpProxyAgent') {
    const direct = readNamed(dispatcher, 'no proxy agent')
    const options = typeof direct === 'object' && direct !== null ? agentOptionsOf(direct) : undefined
    if (options === undefined) refuse(name, 'it keeps its settings where staleguard cannot find them')
    const h2 = negotiatesH2ByDefault(direct as object)
    const base = { ...baseFromAgentOptions(options, describe(name, composed), h2), proxy: envProxyPlan(dispatcher) }
    return { kind: 'readable', dispatcher, base, composed }
  }
  if (name === 'ProxyAgent') {
    if (proxyGiven) return { kind: 'nothing' }
    throw new StaleguardOptionError(
      'proxy',
      'must be given: the global dispatcher in place is an undici ProxyAgent, whose settings staleguard cannot ' +
        'read (its factories among them), and going direct would bypass it. Pass the same proxy ' +
        "(proxy: 'http://proxy:3128' or { uri, token, … }), proxy: 'env', or proxy: false to go direct",
      undefined,
    )
  }
  if (name === 'RetryAgent')
    refuse(
      name,
      'staleguard cannot read its settings or its retry options; staleguard retries stale sockets itself, and ' +
        "undici's interceptors.retry() composes on staleguard's dispatcher (createDispatcher(…).compose(…))",
    )
  refuse(name, 'staleguard cannot read its settings')
}

function agentBase(agent: object, composed: boolean): InheritedBase {
  const options = agentOptionsOf(agent)
  if (options === undefined) refuse('Agent', 'it keeps its options where staleguard cannot find them')
  if (!hasDefaultFactory(agent))
    refuse('Agent', 'it builds its pools with a factory of its own, which staleguard cannot read')
  const v6Interceptors = (options.interceptors as { Agent?: unknown[] } | undefined)?.Agent
  if (Array.isArray(v6Interceptors) && v6Interceptors.length > 0)
    refuse('Agent', 'it runs interceptors given as its `interceptors` option (undici 6), which staleguard cannot keep')
  const base = baseFromAgentOptions(options, describe('Agent', composed), negotiatesH2ByDefault(agent))
  return { ...base, proxy: { routeFor: () => null } }
}

function describe(name: string, composed: boolean): string {
  return composed ? `${name} (composed with interceptors)` : name
}

/**
 * `compose()` returns a Proxy over the dispatcher whose `dispatch` is the interceptor chain: a `dispatch` that
 * is not its class's own says so.
 */
export function isComposed(dispatcher: object): boolean {
  const own = (Object.getPrototypeOf(dispatcher) as { dispatch?: unknown } | null)?.dispatch
  return (dispatcher as { dispatch?: unknown }).dispatch !== own
}

/** undici's MockAgent (from any copy): a test suite's stand-in for the network, never replaced. */
export function isMockAgent(value: unknown): value is Dispatcher {
  const candidate = value as { disableNetConnect?: unknown; assertNoPendingInterceptors?: unknown } | null
  return (
    typeof candidate?.disableNetConnect === 'function' && typeof candidate.assertNoPendingInterceptors === 'function'
  )
}

function refuse(name: string, why: string): never {
  throw new StaleguardOptionError(
    'inherit',
    `must be set to false to replace the global dispatcher in place, an undici ${name}: ${why}, and replacing it ` +
      'would change where requests go or how without a word. Give staleguard the settings it had (`connect`, ' +
      '`connections`, `proxy`, …) with inherit: false, or keep it and build nothing over it (pass it as ' +
      "`dispatcher`: installGlobalDispatcher(yours), or the adapters' `dispatcher` option)",
    undefined,
  )
}
