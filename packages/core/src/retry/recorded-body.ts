/**
 * Keeps the chunks of an async-iterable body as undici sends them, so a retry can send the very same
 * bytes. fetch hands the dispatcher a one-shot generator even for a string body; without this, no fetch
 * body could ever be replayed at the dispatcher layer.
 *
 * Each attempt reads the recorded chunks first and then pulls further chunks from the source. Pulls are
 * serialised, so an attempt that fails mid-body and the retry that follows never split a chunk between
 * them, and an attempt that gives up early does not close the source (the retry still needs the rest).
 */
export class RecordedBody {
  readonly #source: AsyncIterator<unknown> | Iterator<unknown>
  #chunks: unknown[] = []
  #recording = true
  #exhausted = false
  #pulling: Promise<IteratorResult<unknown>> | null = null
  #released = false
  #failure: unknown = undefined

  constructor(source: AsyncIterable<unknown> | Iterable<unknown>) {
    const asyncIterate = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator]
    this.#source = asyncIterate ? asyncIterate.call(source) : (source as Iterable<unknown>)[Symbol.iterator]()
  }

  /** The error the source itself threw, if any: then the body is gone and the failure is not the socket's. */
  get failure(): unknown {
    return this.#failure
  }

  /** A fresh iterable over the whole body, for one attempt. */
  attempt(): AsyncIterable<unknown> {
    let index = 0
    const next = async (): Promise<IteratorResult<unknown>> => {
      for (;;) {
        if (this.#released) return { done: true, value: undefined }
        if (index < this.#chunks.length) return { done: false, value: this.#chunks[index++] }
        if (this.#exhausted) return { done: true, value: undefined }
        if (!this.#recording) {
          // Past the point of no replay: the one live attempt reads straight from the source.
          return this.#read()
        }
        this.#pulling ??= this.#read().finally(() => (this.#pulling = null))
        await this.#pulling
      }
    }
    const iterator: AsyncIterator<unknown> = {
      next,
      // An abandoned attempt must not close the shared source: the retry reads on from where it stopped.
      return: async () => ({ done: true, value: undefined }),
    }
    return { [Symbol.asyncIterator]: () => iterator }
  }

  /**
   * No retry is possible any more (response headers arrived), but the live attempt may still be sending:
   * servers answer before reading the whole body. Stop keeping new chunks; the attempt reads on.
   */
  stopRecording(): void {
    this.#recording = false
  }

  /** The request is over: drop the recorded chunks and let the producer (fetch's generator) finish. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#chunks = []
    if (!this.#exhausted) {
      this.#exhausted = true
      Promise.resolve(this.#source.return?.()).catch(() => {})
    }
  }

  async #read(): Promise<IteratorResult<unknown>> {
    // Decided before waiting: a chunk asked for while recording is kept even if recording stops meanwhile,
    // so the attempt waiting for it finds it among the recorded chunks.
    const record = this.#recording
    let result: IteratorResult<unknown>
    try {
      result = await this.#source.next()
    } catch (error) {
      this.#failure = error
      this.#exhausted = true
      throw error
    }
    if (result.done) this.#exhausted = true
    else if (record && !this.#released) this.#chunks.push(result.value)
    return result
  }
}
