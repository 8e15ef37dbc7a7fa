import type { Dispatcher } from 'undici'
import { isScopeAware } from '../dispatch/staleguard-dispatcher.js'
import { UndiciDispatcher } from '../http/undici.js'
import { dispatcherName, globalDispatcherInPlace } from '../http/global-slots.js'
import { reportInstallation } from '../observe/events.js'

/**
 * undici's MockAgent (from any copy of undici): a test suite's stand-in for the network. staleguard never
 * replaces it, so mocked calls stay mocked and `disableNetConnect()` keeps its word.
 */
export function isMockAgent(value: unknown): value is Dispatcher {
  const candidate = value as { disableNetConnect?: unknown; assertNoPendingInterceptors?: unknown } | null
  return (
    typeof candidate?.disableNetConnect === 'function' && typeof candidate.assertNoPendingInterceptors === 'function'
  )
}

/**
 * Whether a dispatcher is the one Node's fetch installs for itself. Node's own undici is not the npm copy
 * staleguard loads, so its classes are not npm undici's; its Agent (and, on Node 26, the wrapper it keeps in
 * the older slot) carry the names below. A dispatcher from another npm copy of undici also passes this test.
 */
export function isRuntimeDefault(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || value instanceof UndiciDispatcher) return false
  const name = dispatcherName(value)
  return name === 'Agent' || name === 'Dispatcher1Wrapper'
}

/**
 * The MockAgent in place as the global dispatcher, if there is one (other than `except`): staleguard stands
 * aside for it, and says so in the debug log. The one rule for `installGlobalDispatcher` and the adapters.
 */
export function mockAgentInPlace(except?: Dispatcher): Dispatcher | null {
  const current = globalDispatcherInPlace()
  if (!isMockAgent(current) || current === except) return null
  reportInstallation({ action: 'stood-aside', dispatcher: dispatcherName(current) })
  return current
}

/** undici's proxy dispatchers, whose route a staleguard dispatcher takes over (see proxy/proxy-plan.ts). */
const PROXY_AGENTS = new Set(['EnvHttpProxyAgent', 'ProxyAgent'])
const REPLACED_WARNING_CODE = 'STALEGUARD_DISPATCHER_REPLACED'
const warned = new WeakSet<object>()

/**
 * Says so, once per dispatcher, when installing replaces one that is neither Node's own nor staleguard's
 * (someone's own Agent, an APM's wrapper): what went through it goes through staleguard from now on.
 */
export function warnOnReplacing(
  current: unknown,
  replacement: Dispatcher,
  installedByStaleguard: (value: unknown) => boolean,
): void {
  if (typeof current !== 'object' || current === null || current === replacement || warned.has(current)) return
  if (isRuntimeDefault(current) || isScopeAware(current) || installedByStaleguard(current)) return
  // A proxy agent's route is carried over by the replacement (or it was refused): nothing is lost.
  if (PROXY_AGENTS.has(dispatcherName(current))) return
  warned.add(current)
  process.emitWarning(
    `staleguard replaced the global dispatcher that was in place (${dispatcherName(current)}): requests that went ` +
      'through it now go through staleguard instead. To keep it, pass it to staleguard as `dispatcher` ' +
      "(installGlobalDispatcher(yours), or the adapters' `dispatcher` option), or compose staleguard on it.",
    { code: REPLACED_WARNING_CODE },
  )
}

/**
 * Watches, once a second and without keeping the process alive, whether the dispatcher is still the one
 * Node's fetch uses, and logs the moment it is not (another library, or Node 24's
 * `http.setGlobalProxyFromEnv()`). A later staleguard installation is not news. Returns the stop function.
 */
export function watchForDisplacement(
  dispatcher: Dispatcher,
  installedByStaleguard: (value: unknown) => boolean,
): () => void {
  const timer = setInterval(() => {
    const now = globalDispatcherInPlace()
    if (now === dispatcher) return
    clearInterval(timer)
    if (!installedByStaleguard(now) && !isScopeAware(now))
      reportInstallation({ action: 'displaced', dispatcher: dispatcherName(now) })
  }, 1_000)
  timer.unref()
  return () => clearInterval(timer)
}
