/**
 * Where Node's built-in fetch and the npm `undici` copies look for the global dispatcher. Node 20–24
 * (undici 6/7) read `.1`, Node 26 (undici 8) reads `.2`; undici's public `setGlobalDispatcher` writes both.
 */
export const SLOT_V1 = Symbol.for('undici.globalDispatcher.1')
export const SLOT_V2 = Symbol.for('undici.globalDispatcher.2')
export const slots = globalThis as unknown as Record<symbol, unknown>

const runtimeSlot = Number(process.versions.undici?.split('.')[0] ?? 0) >= 8 ? SLOT_V2 : SLOT_V1

/** The dispatcher Node's built-in fetch goes through now (undefined before Node's fetch first loads). */
export function globalDispatcherInPlace(): unknown {
  return slots[runtimeSlot]
}

/** A dispatcher's name for messages: its class, or what it is when it has none. */
export function dispatcherName(value: unknown): string {
  if (value === undefined || value === null) return 'none'
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'an object with dispatch()'
}
