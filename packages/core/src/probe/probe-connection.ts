import net from 'node:net'
import tls from 'node:tls'

/**
 * One keep-alive connection the probe controls byte by byte. undici and node:http hide exactly what the
 * probe needs to see: whether an idle connection was closed with a FIN (and when), reset with an RST, or
 * silently forgotten (alive-looking until the next request gets an RST or no answer).
 */
export interface ProbeTarget {
  readonly url: URL
  readonly method: 'GET' | 'HEAD'
  /** Give up on an answer after this long: a silent drop answers nothing at all. */
  readonly answerTimeoutMs: number
}

export interface ProbeResponse {
  readonly status: number
  readonly keepAlive: boolean
  /** The `Keep-Alive: timeout=` hint in seconds, if the server sent one. */
  readonly keepAliveHintSeconds: number | null
}

export type IdleEnd =
  | { readonly kind: 'fin'; readonly afterMs: number }
  | { readonly kind: 'rst'; readonly afterMs: number }

export class ProbeConnection {
  readonly #target: ProbeTarget
  readonly #socket: net.Socket
  #buffer = Buffer.alloc(0)
  #waiter: (() => void) | null = null
  #ended: { kind: 'fin' | 'rst' | 'error'; at: number; error?: Error } | null = null
  #idleSince = 0
  /** When the last byte arrived: the hop's idle clock starts then, not when we finished parsing. */
  #lastByteAt = 0

  private constructor(target: ProbeTarget, socket: net.Socket) {
    this.#target = target
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#lastByteAt = performance.now()
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#wake()
    })
    socket.on('end', () => this.#end('fin'))
    socket.on('error', (error: NodeJS.ErrnoException) =>
      this.#end(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'rst' : 'error', error),
    )
    socket.on('close', () => this.#end('fin'))
  }

  static async open(target: ProbeTarget): Promise<ProbeConnection> {
    const { url } = target
    const secure = url.protocol === 'https:'
    const port = Number(url.port || (secure ? 443 : 80))
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    return new ProbeConnection(target, socket)
  }

  /** Sends one request and reads its whole response. Rejects when the connection dies first. */
  async exchange(): Promise<ProbeResponse> {
    const { url, method } = this.#target
    const request = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: staleguard-probe\r\naccept: */*\r\nconnection: keep-alive\r\n\r\n`
    if (this.#ended) throw this.#failure()
    this.#socket.write(request)
    const deadline = performance.now() + this.#target.answerTimeoutMs
    const head = await this.#readUntil(() => this.#buffer.indexOf('\r\n\r\n'), deadline)
    const headText = this.#buffer.subarray(0, head).toString('latin1')
    this.#buffer = this.#buffer.subarray(head + 4)
    const [statusLine = '', ...lines] = headText.split('\r\n')
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
    const headers = new Map<string, string>()
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
    }
    await this.#skipBody(method, status, headers, deadline)
    this.#idleSince = this.#lastByteAt
    const hint = /timeout=(\d+)/i.exec(headers.get('keep-alive') ?? '')
    return {
      status,
      keepAlive: !/close/i.test(headers.get('connection') ?? '') && !statusLine.startsWith('HTTP/1.0'),
      keepAliveHintSeconds: hint ? Number(hint[1]) : null,
    }
  }

  /**
   * Waits up to `idleMs` with the connection idle. Resolves null if it is still open, or how it ended:
   * a FIN (the hop closed it and said so) or an RST, with the idle time at which that happened.
   */
  async idle(idleMs: number, cancelled: () => boolean): Promise<IdleEnd | null> {
    const until = this.#idleSince + idleMs
    while (!this.#ended && performance.now() < until && !cancelled()) {
      await this.#waitFor(Math.min(until - performance.now(), 200))
    }
    if (!this.#ended) return null
    return { kind: this.#ended.kind === 'fin' ? 'fin' : 'rst', afterMs: this.#ended.at - this.#idleSince }
  }

  close(): void {
    this.#socket.destroy()
  }

  #end(kind: 'fin' | 'rst' | 'error', error?: Error): void {
    if (this.#ended) return
    this.#ended = error === undefined ? { kind, at: performance.now() } : { kind, at: performance.now(), error }
    this.#wake()
  }

  #failure(): Error {
    const ended = this.#ended
    const error = new Error(
      ended?.kind === 'rst'
        ? 'connection reset'
        : ended?.kind === 'fin'
          ? 'connection closed'
          : (ended?.error?.message ?? 'connection failed'),
    )
    return Object.assign(error, {
      code: ended?.kind === 'rst' ? 'ECONNRESET' : ended?.kind === 'fin' ? 'CLOSED' : 'ERROR',
    })
  }

  async #readUntil(found: () => number, deadline: number): Promise<number> {
    for (;;) {
      const index = found()
      if (index !== -1) return index
      if (this.#ended) throw this.#failure()
      const left = deadline - performance.now()
      if (left <= 0) throw Object.assign(new Error('no answer'), { code: 'TIMEOUT' })
      await this.#waitFor(left)
    }
  }

  async #skipBody(method: string, status: number, headers: Map<string, string>, deadline: number): Promise<void> {
    if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return
    const length = headers.get('content-length')
    if (length !== undefined) {
      const size = Number(length)
      await this.#readUntil(() => (this.#buffer.length >= size ? size : -1), deadline)
      this.#buffer = this.#buffer.subarray(size)
      return
    }
    if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      for (;;) {
        const lineEnd = await this.#readUntil(() => this.#buffer.indexOf('\r\n'), deadline)
        const size = Number.parseInt(this.#buffer.subarray(0, lineEnd).toString('latin1'), 16)
        if (size === 0) {
          const end = await this.#readUntil(() => this.#buffer.indexOf('\r\n\r\n', lineEnd), deadline)
          this.#buffer = this.#buffer.subarray(end + 4)
          return
        }
        const total = lineEnd + 2 + size + 2
        await this.#readUntil(() => (this.#buffer.length >= total ? total : -1), deadline)
        this.#buffer = this.#buffer.subarray(total)
      }
    }
    // No length: the body runs to the close, so the connection cannot be reused.
    await this.#readUntil(() => (this.#ended ? this.#buffer.length : -1), deadline).catch(() => 0)
  }

  #waitFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#waiter = null
          resolve()
        },
        Math.max(1, ms),
      )
      this.#waiter = () => {
        clearTimeout(timer)
        this.#waiter = null
        resolve()
      }
    })
  }

  #wake(): void {
    this.#waiter?.()
  }
}
