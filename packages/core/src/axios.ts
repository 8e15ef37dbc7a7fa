/** `@staleguard/core/axios`: the one safe retry of a stale reused socket, for axios over staleguard's agents. */
export { retryStaleSockets, type AxiosLike } from './integrations/axios.js'
