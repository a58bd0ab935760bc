/** The event store's queue: never past capacity, the oldest dropped and counted, a failed batch put back in front. */
import t from 'tap'
import { DropOldestQueue } from '../../../core/timeline/drop-oldest-queue.js'

t.test('push past capacity drops the oldest and counts it', async (t) => {
  const q = new DropOldestQueue<number>(3)
  for (let i = 0; i < 5; i++) q.push(i)
  t.equal(q.size, 3)
  t.equal(q.dropped, 2)
  t.same(q.take(10), [2, 3, 4])
  t.equal(q.size, 0)
})

t.test('a batch put back goes first; what no longer fits is the oldest, dropped and counted', async (t) => {
  const q = new DropOldestQueue<number>(4)
  for (let i = 0; i < 4; i++) q.push(i)
  const batch = q.take(3)
  q.push(4)
  q.push(5)
  q.unshift(batch)
  t.equal(q.dropped, 2)
  t.same(q.take(10), [2, 3, 4, 5], 'order kept, the two oldest gone')
})

t.test('a long run stays bounded in memory (the array is compacted)', async (t) => {
  const q = new DropOldestQueue<number>(100)
  for (let i = 0; i < 1_000_000; i++) {
    q.push(i)
    if (i % 3 === 0) q.take(1)
  }
  t.equal(q.size, 99, 'full, then one taken by the last iteration')
  t.ok((q as unknown as { items: number[] }).items.length < 100 + 2048, 'the backing array does not grow with the run')
})
