/** A fixed-capacity ring of events: the oldest is overwritten, so one machine's history is bounded. */
import type { TimelineEvent } from './timeline-types.js'

export class EventRing {
  // Grown as events come (most machines of a cold workload have one or two), never past capacity.
  private readonly items: TimelineEvent[] = []
  private next = 0
  private count = 0

  constructor(readonly capacity: number) {}

  push(e: TimelineEvent): void {
    this.items[this.next] = e
    this.next = (this.next + 1) % this.capacity
    if (this.count < this.capacity) this.count++
  }

  /** Replace the contents with these events (oldest first); beyond capacity the oldest are dropped. */
  replaceWith(events: readonly TimelineEvent[]): void {
    this.items.length = 0
    this.next = 0
    this.count = 0
    for (const e of events.slice(-this.capacity)) this.push(e)
  }

  get size(): number {
    return this.count
  }

  /** Oldest first. */
  toArray(): TimelineEvent[] {
    const out: TimelineEvent[] = []
    const start = (this.next - this.count + this.capacity) % this.capacity
    for (let i = 0; i < this.count; i++) out.push(this.items[(start + i) % this.capacity]!)
    return out
  }
}
