import type { Dispatcher } from 'undici'
import { setGlobalDispatcher } from '../http/undici.js'
import { type StaleguardDispatcher, createDispatcher, isDispatcher } from '../dispatch/staleguard-dispatcher.js'
import type { StaleguardOptions } from '../config/options.js'
import { SLOT_V1, SLOT_V2, globalDispatcherInPlace, slots } from '../http/global-slots.js'
import { readDispatcherInPlace } from '../inherit/dispatcher-in-place.js'
import { type KeptChain, keepChain } from '../inherit/interceptor-chain.js'
import { mockAgentInPlace, warnOnReplacing, watchForDisplacement } from './global-dispatcher-in-place.js'

/** What `installGlobalDispatcher` returns: the dispatcher in place, and the way to take it back. */
export interface GlobalDispatcherInstallation<D extends Dispatcher = StaleguardDispatcher> {
  /** The dispatcher installed: the one created from the options, or the one passed in. */
  readonly dispatcher: D
  /**
   * Whether Node's fetch goes through this installation's dispatcher now: false once another dispatcher was
   * installed over it, and from the start when staleguard stood aside for a MockAgent.
   */
  readonly inPlace: boolean
  /**
   * Takes this installation back: the global dispatcher becomes the one installed before (or the most
   * recent installation still in place), and a dispatcher that installGlobalDispatcher created is closed.
   * Calling it again does nothing.
   */
  restore(): Promise<void>
}

interface Installation {
  readonly dispatcher: Dispatcher
  readonly owned: boolean
  /** The interceptors composed on the dispatcher it replaced, kept in front of it. */
  readonly chain: KeptChain | null
  /** What each slot held when this installation went in. */
  readonly replaced: { readonly v1: unknown; readonly v2: unknown; readonly hadV2: boolean }
}

interface Registry {
  readonly installations: Installation[]
  /** Dispatchers whose installation was restored, so a later restore can see past them. */
  readonly restored: WeakMap<object, Installation>
}

/** Shared through the global symbol registry so the ESM and CommonJS builds (or two copies) agree. */
const kRegistry = Symbol.for('staleguard.globalDispatcherRegistry.v2')

function registry(): Registry {
  const existing = slots[kRegistry] as Registry | undefined
  if (existing) return existing
  const created: Registry = { installations: [], restored: new WeakMap() }
  Object.defineProperty(globalThis, kRegistry, { value: created, enumerable: false })
  return created
}

/**
 * Makes staleguard the process-wide dispatcher: Node's built-in `fetch` and the npm `undici` `fetch` /
 * `request` then go through it, on Node 20, 22, 24 and 26.
 *
 * Pass options to have a dispatcher created (and closed on restore), or pass your own dispatcher to
 * borrow it (never closed by us). Installations never stack: each request goes through exactly one
 * staleguard dispatcher, the most recently installed one still in place.
 *
 * A dispatcher created from options takes over the settings of the one in place (see the `inherit` option),
 * and when that one was composed with interceptors, they stay in front of staleguard's, in their order. A
 * MockAgent in place is never replaced (a test suite's mocks stay in charge, `inPlace` is false). A borrowed
 * dispatcher installed over one that is neither Node's own nor staleguard's emits a warning
 * (`STALEGUARD_DISPATCHER_REPLACED`) that names it.
 */
export function installGlobalDispatcher(options?: StaleguardOptions): GlobalDispatcherInstallation<StaleguardDispatcher>
/**
 * Installs a dispatcher you built (`createDispatcher(…)`, composed or not, or any undici dispatcher) as the
 * process-wide one. It is borrowed: `restore()` puts the previous one back and never closes it.
 */
export function installGlobalDispatcher<D extends Dispatcher>(dispatcher: D): GlobalDispatcherInstallation<D>
export function installGlobalDispatcher(
  arg?: StaleguardOptions | Dispatcher,
): GlobalDispatcherInstallation<Dispatcher> {
  const borrowed = isDispatcher(arg)
  const built = borrowed ? null : createDispatcher(arg)
  const chain = built === null || (arg as StaleguardOptions | undefined)?.inherit === false ? null : chainInPlace(built)
  const dispatcher: Dispatcher = chain === null ? (built ?? (arg as Dispatcher)) : built!.compose(() => chain.dispatch)
  if (mockAgentInPlace(dispatcher) !== null) {
    let closed: Promise<void> | null = null
    return {
      dispatcher,
      inPlace: false,
      restore: () => (closed ??= borrowed ? Promise.resolve() : dispatcher.close()),
    }
  }
  const state = registry()
  const installedByStaleguard = (value: unknown): boolean => state.installations.some((i) => i.dispatcher === value)
  if (borrowed) warnOnReplacing(globalDispatcherInPlace(), dispatcher, installedByStaleguard)
  const installation: Installation = {
    dispatcher,
    owned: !borrowed,
    chain,
    replaced: { v1: slots[SLOT_V1], v2: slots[SLOT_V2], hadV2: SLOT_V2 in globalThis },
  }
  state.installations.push(installation)
  setGlobalDispatcher(dispatcher)
  const stopWatching = watchForDisplacement(dispatcher, installedByStaleguard)

  let restored: Promise<void> | null = null
  return {
    dispatcher,
    get inPlace() {
      return restored === null && globalDispatcherInPlace() === dispatcher
    },
    restore() {
      stopWatching()
      restored ??= restoreInstallation(state, installation)
      return restored
    },
  }
}

/**
 * The interceptor chain of the composed dispatcher in place, its end moved to `dispatcher`; null when what is in
 * place is not composed (or not an undici dispatcher staleguard reads).
 */
function chainInPlace(dispatcher: StaleguardDispatcher): KeptChain | null {
  // Read once more: what is in place is what the dispatcher was just built over, and it was readable.
  const inPlace = readDispatcherInPlace(globalDispatcherInPlace(), true)
  if (inPlace.kind !== 'readable' || !inPlace.composed) return null
  return keepChain(inPlace.dispatcher, (options, handler) => dispatcher.dispatch(options, handler))
}

/**
 * Installing always goes through undici's public `setGlobalDispatcher`; only this writes the slots, because
 * putting back exactly what was there is the one thing the public API cannot do.
 *
 * Puts back, slot by slot, what this installation replaced, but only in a slot that still holds its
 * dispatcher (someone who installed after us keeps theirs). When what it replaced was another staleguard
 * installation that has been restored since, that one's predecessor is used instead, and so on.
 */
async function restoreInstallation(state: Registry, installation: Installation): Promise<void> {
  installation.chain?.undo()
  for (const [slot, key] of [
    [SLOT_V1, 'v1'],
    [SLOT_V2, 'v2'],
  ] as const) {
    if (slots[slot] !== installation.dispatcher) continue
    slots[slot] = predecessor(state, installation, key)
  }
  const index = state.installations.indexOf(installation)
  if (index !== -1) state.installations.splice(index, 1)
  state.restored.set(installation.dispatcher, installation)
  if (installation.owned && !state.installations.some((i) => i.dispatcher === installation.dispatcher)) {
    await installation.dispatcher.close()
  }
}

function predecessor(state: Registry, installation: Installation, key: 'v1' | 'v2'): unknown {
  let current = installation
  for (let hops = 0; hops < 1_000; hops++) {
    // A `.2` slot that did not exist before (Node 20–24, no undici 8 loaded): leave it a working dispatcher
    // rather than a hole, since an undici 8 loaded meanwhile found ours there and made none of its own.
    const value = key === 'v2' && !current.replaced.hadV2 ? current.replaced.v1 : current.replaced[key]
    const stillInstalled = state.installations.some((i) => i.dispatcher === value)
    const previous =
      typeof value === 'object' && value !== null && !stillInstalled ? state.restored.get(value) : undefined
    if (previous === undefined) return value
    current = previous
  }
  return current.replaced[key]
}
