import type { Socket } from 'node:net'
import { agentConnectionOf } from './request-watch.js'

/**
 * Retires an agent's idle sockets at their idle limit with one timer for the whole agent, armed for the
 * earliest deadline. A socket timeout per socket would do the same, but node:http refreshes a socket's timer
 * on every read and write, which a busy pool pays on every request.
 */
export class IdleSweep {
  readonly #freeSockets: () => Record<string, Socket[] | undefined>
  #timer: NodeJS.Timeout | null = null
  #at = Number.POSITIVE_INFINITY

  constructor(freeSockets: () => Record<string, Socket[] | undefined>) {
    this.#freeSockets = freeSockets
  }

  /** A socket went idle, to be closed `keepMs` from `idleSince` unless it is reused first. */
  watch(idleSince: number, keepMs: number): void {
    const deadline = idleSince + keepMs
    // Most sockets go idle after the armed deadline: the sweep then re-arms for them.
    if (this.#timer !== null && deadline >= this.#at) return
    this.#arm(deadline, performance.now())
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#at = Number.POSITIVE_INFINITY
  }

  #arm(deadline: number, now: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#at = deadline
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, Math.ceil(deadline - now)))
    this.#timer.unref()
  }

  #sweep(): void {
    this.#timer = null
    this.#at = Number.POSITIVE_INFINITY
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    const free = this.#freeSockets()
    for (const name in free) {
      for (const socket of free[name] ?? []) {
        const connection = agentConnectionOf(socket)
        if (connection === undefined || socket.destroyed) continue
        const deadline = connection.record.idleSince + connection.keepMs
        // Within a millisecond of it counts: timers fire late, never early.
        if (deadline - now <= 1) socket.destroy()
        else next = Math.min(next, deadline)
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next, now)
  }
}
