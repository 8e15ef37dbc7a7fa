import type { Duplex } from 'node:stream'
import type { AbortableCall, CallScope } from '../dispatch/call-scope.js'
import type { CallbackHandler } from '../dispatch/handler-bridge.js'

/** For a dispatcher that is not staleguard's: just enough of a handler to abort the call and know its end. */
export class ScopedCall implements CallbackHandler, AbortableCall {
  readonly #handler: CallbackHandler
  readonly #scope: CallScope
  #abortRequest: ((reason?: Error) => void) | null = null
  #pending: Error | null = null

  constructor(handler: CallbackHandler, scope: CallScope) {
    this.#handler = handler
    this.#scope = scope
    scope.enter(this)
  }

  abort(reason: Error): void {
    if (this.#abortRequest) this.#abortRequest(reason)
    else this.#pending = reason
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#abortRequest = abort
    this.#handler.onConnect?.(abort, context)
    if (this.#pending) abort(this.#pending)
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#handler.onHeaders?.(statusCode, headers, resume, statusText) ?? true
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData?.(chunk) ?? true
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.#scope.leave(this)
    this.#handler.onComplete?.(trailers)
  }

  onError(error: Error): void {
    this.#scope.leave(this)
    if (!this.#handler.onError) throw error
    this.#handler.onError(error)
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.#scope.leave(this)
    this.#handler.onUpgrade?.(statusCode, headers, socket)
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.()
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#handler.onBodySent?.(chunkSize, totalBytesSent)
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.()
  }
}
