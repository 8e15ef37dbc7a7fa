import { type Dispatcher, setGlobalDispatcher } from 'undici'
import { type StaleguardDispatcher, createDispatcher, isDispatcher } from './dispatcher.js'
import type { StaleguardOptions } from './options.js'

export interface GlobalDispatcherInstallation<D extends Dispatcher = StaleguardDispatcher> {
  readonly dispatcher: D
  /**
   * Takes this installation back: the global dispatcher becomes the one installed before (or the most
   * recent installation still in place), and a dispatcher that installGlobalDispatcher created is closed.
   * Calling it again does nothing.
   */
  restore(): Promise<void>
}

/**
 * Where Node's built-in fetch and the npm `undici` copies look for the global dispatcher. Node 20–24
 * (undici 6/7) read `.1`, Node 26 (undici 8) reads `.2`; undici's public `setGlobalDispatcher` writes both.
 * Installing always goes through that public function; only `restore()` writes these slots, because
 * putting back exactly what was there is the one thing the public API cannot do.
 */
const SLOT_V1 = Symbol.for('undici.globalDispatcher.1')
const SLOT_V2 = Symbol.for('undici.globalDispatcher.2')

interface Installation {
  readonly dispatcher: Dispatcher
  readonly owned: boolean
}

interface Registry {
  original: { readonly v1: unknown; readonly v2: unknown; readonly hadV2: boolean } | null
  readonly installations: Installation[]
}

/** Shared through the global symbol registry so the ESM and CommonJS builds (or two copies) agree. */
const kRegistry = Symbol.for('staleguard.globalDispatcherRegistry.v1')
const slots = globalThis as unknown as Record<symbol, unknown>

function registry(): Registry {
  const existing = slots[kRegistry] as Registry | undefined
  if (existing) return existing
  const created: Registry = { original: null, installations: [] }
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
 */
export function installGlobalDispatcher(options?: StaleguardOptions): GlobalDispatcherInstallation<StaleguardDispatcher>
export function installGlobalDispatcher<D extends Dispatcher>(dispatcher: D): GlobalDispatcherInstallation<D>
export function installGlobalDispatcher(arg?: StaleguardOptions | Dispatcher): GlobalDispatcherInstallation<Dispatcher> {
  const borrowed = isDispatcher(arg)
  const dispatcher = borrowed ? arg : createDispatcher(arg)
  const state = registry()
  if (state.installations.length === 0) {
    state.original = { v1: slots[SLOT_V1], v2: slots[SLOT_V2], hadV2: SLOT_V2 in globalThis }
  }
  const installation: Installation = { dispatcher, owned: !borrowed }
  state.installations.push(installation)
  setGlobalDispatcher(dispatcher)

  let restored: Promise<void> | null = null
  return {
    dispatcher,
    restore() {
      restored ??= restoreInstallation(state, installation)
      return restored
    },
  }
}

async function restoreInstallation(state: Registry, installation: Installation): Promise<void> {
  const index = state.installations.indexOf(installation)
  if (index !== -1) state.installations.splice(index, 1)
  const current = slots[SLOT_V1]
  const oursIsInstalled = current === installation.dispatcher || slots[SLOT_V2] === installation.dispatcher
  // Someone replaced the global dispatcher after us: theirs stays.
  if (oursIsInstalled) {
    const next = state.installations.at(-1)
    if (next) {
      setGlobalDispatcher(next.dispatcher)
    } else if (state.original) {
      slots[SLOT_V1] = state.original.v1
      // An undici 8 (Node 26's fetch) loaded while we were installed found a dispatcher in `.2` and made
      // none of its own: leave it a working one rather than a hole.
      slots[SLOT_V2] = state.original.hadV2 ? state.original.v2 : state.original.v1
    }
  }
  if (state.installations.length === 0) state.original = null
  if (installation.owned && !state.installations.some((i) => i.dispatcher === installation.dispatcher)) {
    await installation.dispatcher.close()
  }
}

