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
  readonly #chunks: unknown[] = []
  #exhausted = false
  #pulling: Promise<void> | null = null
  #released = false

  constructor(source: AsyncIterable<unknown> | Iterable<unknown>) {
    const asyncIterate = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator]
    this.#source = asyncIterate ? asyncIterate.call(source) : (source as Iterable<unknown>)[Symbol.iterator]()
  }

  /** A fresh iterable over the whole body, for one attempt. */
  attempt(): AsyncIterable<unknown> {
    let index = 0
    const next = async (): Promise<IteratorResult<unknown>> => {
      for (;;) {
        if (this.#released) return { done: true, value: undefined }
        if (index < this.#chunks.length) return { done: false, value: this.#chunks[index++] }
        if (this.#exhausted) return { done: true, value: undefined }
        this.#pulling ??= this.#pull()
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

  /** Drops the recorded chunks once no retry is possible any more (a response arrived, or we gave up). */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#chunks.length = 0
    if (!this.#exhausted) {
      this.#exhausted = true
      // Let the producer (fetch's generator) finish and free its stream.
      Promise.resolve(this.#source.return?.()).catch(() => {})
    }
  }

  async #pull(): Promise<void> {
    try {
      const result = await this.#source.next()
      if (result.done) this.#exhausted = true
      else if (!this.#released) this.#chunks.push(result.value)
    } finally {
      this.#pulling = null
    }
  }
}
