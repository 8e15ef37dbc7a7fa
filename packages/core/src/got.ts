/** `@staleguard/core/got`: the one safe retry of a stale reused socket, for got over staleguard's agents. */
export { retryStaleSockets, type GotRetryObject, type GotStaleSocketOptions } from './integrations/got.js'
