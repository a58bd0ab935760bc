/**
 * The DHCP receive queue: datagrams are taken off the sockets as fast as they arrive and wait
 * here for the responder. It is a ring of fixed capacity that, when full, drops its OLDEST entry
 * to make room (Kea's congestion handling): under overload the packet that waited longest is the
 * least relevant one, since its client has most likely retransmitted already. Without it the
 * kernel's socket buffer is the queue, and that one drops the newest packets and serves stale ones.
 * An entry `expendable` says may go first is dropped before any other (the oldest such): DHCP
 * drops DISCOVERs before REQUESTs, since a REQUEST completes an exchange the server has already
 * answered once, and busybox udhcpc, for one, sends only three per offer.
 */
export class ReceiveQueue<T> {
  private readonly ring: Array<T | undefined>
  private head = 0
  private size = 0
  /** Entries dropped to make room, since the start. */
  dropped = 0
  /** The longest the queue has been, since the start: never above `capacity`. */
  highWater = 0

  constructor(
    readonly capacity: number,
    private readonly expendable?: (item: T) => boolean,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`internal: queue capacity ${capacity}`)
    this.ring = new Array<T | undefined>(capacity)
  }

  get length(): number {
    return this.size
  }

  /** Appends `item`; when the queue is full the oldest expendable entry (else the oldest) is dropped first and returned. */
  push(item: T): T | undefined {
    let dropped: T | undefined
    if (this.size === this.capacity) {
      dropped = this.dropOne()
      this.dropped++
    }
    this.ring[(this.head + this.size) % this.capacity] = item
    this.size++
    if (this.size > this.highWater) this.highWater = this.size
    return dropped
  }

  private dropOne(): T | undefined {
    if (this.expendable) {
      for (let i = 0; i < this.size; i++) {
        const at = (this.head + i) % this.capacity
        const item = this.ring[at] as T
        if (!this.expendable(item)) continue
        // Close the gap: the older entries move one slot towards it, then the head advances.
        for (let j = i; j > 0; j--) this.ring[(this.head + j) % this.capacity] = this.ring[(this.head + j - 1) % this.capacity]
        this.ring[this.head] = undefined
        this.head = (this.head + 1) % this.capacity
        this.size--
        return item
      }
    }
    return this.shift()
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.ring[this.head]
    this.ring[this.head] = undefined // let the buffer go
    this.head = (this.head + 1) % this.capacity
    this.size--
    return item
  }

  /** Empties the queue (service close). */
  clear(): void {
    while (this.size > 0) this.shift()
  }
}
