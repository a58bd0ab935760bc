/**
 * A bounded FIFO that makes room by dropping its oldest item and counting it: what waits for a
 * slow or absent database can never grow past `capacity`, and the newest events (the ones an admin
 * looks at first) are the ones kept. push() and take() are O(1) amortized.
 */
export class DropOldestQueue<T> {
  private items: T[] = []
  private head = 0
  /** Items dropped to make room, since the start. */
  dropped = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head
  }

  push(item: T): void {
    if (this.size >= this.capacity) {
      this.head++
      this.dropped++
    }
    this.items.push(item)
    this.compact()
  }

  /** Removes and returns up to `n` of the oldest items. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n)
    this.head += out.length
    this.compact()
    return out
  }

  /** Replaces every waiting item by `fn(item)` (the queue keeps its order and size). */
  rewrite(fn: (item: T) => T): void {
    for (let i = this.head; i < this.items.length; i++) this.items[i] = fn(this.items[i]!)
  }

  /** Puts a batch that could not be written back in front, dropping the oldest past capacity. */
  unshift(batch: readonly T[]): void {
    const all = [...batch, ...this.items.slice(this.head)]
    const over = Math.max(0, all.length - this.capacity)
    this.dropped += over
    this.items = all.slice(over)
    this.head = 0
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }
}
