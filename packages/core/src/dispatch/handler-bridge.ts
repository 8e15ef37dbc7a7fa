import type { Duplex } from 'node:stream'
import type { Dispatcher } from 'undici'
import { util } from '../http/undici.js'

/**
 * undici 7's client drives handlers through the callback API (onConnect/onHeaders/onData/onComplete/
 * onError). Node 20–24's built-in fetch and `undici.request` hand us handlers of that shape, so staleguard
 * speaks it too and passes raw headers straight through: no per-request header conversion on the common
 * path. Node 26's fetch (undici 8) and modern interceptors hand us controller-style handlers
 * (onRequestStart/onResponseStart/…); this bridge adapts those, as undici's own UnwrapHandler does.
 */
export interface CallbackHandler {
  onConnect?(abort: (reason?: Error) => void, context?: object): void
  onError?(error: Error): void
  onUpgrade?(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void
  onResponseStarted?(): void
  onHeaders?(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean
  onData?(chunk: Buffer): boolean
  onComplete?(trailers: string[] | Buffer[] | null): void
  onBodySent?(chunkSize: number, totalBytesSent: number): void
  onRequestSent?(): void
}

export function toCallbackHandler(handler: Dispatcher.DispatchHandler): CallbackHandler {
  return typeof handler.onRequestStart === 'function'
    ? new ControllerHandlerBridge(handler)
    : (handler as CallbackHandler)
}

class ControllerHandlerBridge implements CallbackHandler, Dispatcher.DispatchController {
  readonly #handler: Dispatcher.DispatchHandler
  #abortRequest: ((reason?: Error) => void) | null = null
  #resumeRequest: (() => void) | null = null
  #aborted = false
  #paused = false
  #reason: Error | null = null
  rawHeaders: Buffer[] | null = null
  rawTrailers: string[] | Buffer[] | null = null

  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler
  }

  get aborted(): boolean {
    return this.#aborted
  }

  get paused(): boolean {
    return this.#paused
  }

  get reason(): Error | null {
    return this.#reason
  }

  abort(reason: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#abortRequest?.(reason)
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#resumeRequest?.()
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#abortRequest = abort
    this.#handler.onRequestStart?.(this, context)
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.rawHeaders = headers as Buffer[] | null
    this.#handler.onRequestUpgrade?.(this, statusCode, util.parseHeaders(headers ?? []), socket)
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.#resumeRequest = resume
    this.rawHeaders = headers
    this.#handler.onResponseStart?.(this, statusCode, util.parseHeaders(headers), statusText)
    return !this.#paused
  }

  onData(chunk: Buffer): boolean {
    this.#handler.onResponseData?.(this, chunk)
    return !this.#paused
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.rawTrailers = trailers
    this.#handler.onResponseEnd?.(this, util.parseHeaders(trailers ?? []))
  }

  onError(error: Error): void {
    if (!this.#handler.onResponseError) throw error
    this.#handler.onResponseError(this, error)
  }
}
