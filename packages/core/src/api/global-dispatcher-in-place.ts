import type { Dispatcher } from 'undici'
import { isScopeAware } from '../dispatch/staleguard-dispatcher.js'
import { UndiciDispatcher } from '../http/undici.js'
import { dispatcherName, globalDispatcherInPlace } from '../http/global-slots.js'
import { reportInstallation } from '../observe/events.js'
import { isMockAgent } from '../inherit/dispatcher-in-place.js'

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

const REPLACED_WARNING_CODE = 'STALEGUARD_DISPATCHER_REPLACED'
const warned = new WeakSet<object>()

/**
 * Says so, once per dispatcher, when a dispatcher handed to `installGlobalDispatcher` replaces one that is
 * neither Node's own nor staleguard's (someone's own Agent, an APM's wrapper): what went through it goes
 * through the one handed in from now on, as asked. (Built from options, staleguard keeps what it replaces.)
 */
export function warnOnReplacing(
  current: unknown,
  replacement: Dispatcher,
  installedByStaleguard: (value: unknown) => boolean,
): void {
  if (typeof current !== 'object' || current === null || current === replacement || warned.has(current)) return
  if (isRuntimeDefault(current) || isScopeAware(current) || installedByStaleguard(current)) return
  warned.add(current)
  process.emitWarning(
    `staleguard: the dispatcher handed to installGlobalDispatcher replaced the global dispatcher that was in ` +
      `place (${dispatcherName(current)}): requests that went through it now go through the one handed in. ` +
      'Installed from options instead (installGlobalDispatcher({ … })), staleguard takes its settings over.',
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
