import v8 from 'node:v8'
import vm from 'node:vm'

/** V8's collector as `gc()`, for tests about what a finished request leaves behind. */
export type CollectGarbage = (options?: { type: 'minor' | 'major' }) => void

/**
 * Turns on `--expose-gc` for this process and returns V8's `gc`: `{ type: 'minor' }` runs only a
 * young-generation collection (a scavenge), no argument a full one. A function, not a module-level effect,
 * so importing the lab changes no flag.
 */
export function exposeGc(): CollectGarbage {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as CollectGarbage
}
