/**
 * Serialization per key inside one process: a promise chain per key, so that callers of the same
 * key run one after the other and different keys run in parallel. The PostgreSQL backend puts it
 * in front of its advisory lock, so that waiters of one process do not each hold a connection.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  /** Runs fn after every earlier fn of the same key has settled. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((r) => (release = r))
    const tail = previous.then(() => mine)
    this.tails.set(key, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  /** Keys with a holder or waiters (for tests). */
  get size(): number {
    return this.tails.size
  }
}
