/** The receive ring: FIFO, bounded, the oldest dropped when full, high-water mark never above capacity. */
import t from 'tap'
import { ReceiveQueue } from '../../../core/dhcp/receive-queue.js'

t.test('FIFO until full, then the oldest gives way', async (t) => {
  const q = new ReceiveQueue<number>(4)
  for (let i = 0; i < 4; i++) t.equal(q.push(i), undefined)
  t.equal(q.push(4), 0, 'the oldest is dropped and returned')
  t.equal(q.push(5), 1)
  t.equal(q.dropped, 2)
  t.same([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [2, 3, 4, 5, undefined])
  t.equal(q.highWater, 4)
})

t.test('hazard: 100,000 pushes never hold more than the capacity', async (t) => {
  const q = new ReceiveQueue<Buffer>(64)
  let maxLen = 0
  for (let i = 0; i < 100_000; i++) {
    q.push(Buffer.alloc(16))
    if (i % 5 === 0) q.shift()
    maxLen = Math.max(maxLen, q.length)
  }
  t.equal(maxLen, 64)
  t.equal(q.highWater, 64)
  t.equal(q.dropped, 100_000 - 20_000 - 64)
  q.clear()
  t.equal(q.length, 0)
  t.throws(() => new ReceiveQueue(0), RangeError)
})
