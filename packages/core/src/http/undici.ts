import { createRequire } from 'node:module'
import type * as Undici from 'undici'

/**
 * npm undici, loaded so that loading it changes nothing about the process's own fetch.
 *
 * undici claims the global dispatcher slots for an Agent of its own when it loads and finds them empty (its
 * `lib/global.js`), and they are empty until Node's built-in fetch first loads: from then on Node's fetch
 * would go through npm undici's Agent (on Node 26 that is HTTP/1.1 in place of Node's own, which negotiates
 * HTTP/2). Node defines `Headers` as a global that loads its fetch on first read, which installs the very
 * dispatcher Node would have used; undici then finds the slots taken and leaves them. The read has to come
 * before undici loads, which static imports cannot order inside a bundle, hence `require` here.
 */
Reflect.get(globalThis, 'Headers')
const undici = createRequire(import.meta.url)('undici') as typeof Undici

export const {
  Agent,
  Client,
  FormData,
  Pool,
  buildConnector,
  errors,
  getGlobalDispatcher,
  request,
  setGlobalDispatcher,
  util,
} = undici
/** undici's Dispatcher class, for `extends` (its types come from `import type { Dispatcher } from 'undici'`). */
export const UndiciDispatcher = undici.Dispatcher
