/** The receive ring: FIFO, bounded, the oldest dropped when full, high-water mark never above capacity. */
import t from 'tap'
import { ReceiveQueue } from '../../../core/dhcp/receive-queue.js'
import { isDiscover } from '../../../core/dhcp/dhcp-service.js'

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

t.test('full: the oldest expendable entry goes first, order kept; none expendable: the oldest', async (t) => {
  // Odd numbers stand for DISCOVERs (expendable), even ones for REQUESTs.
  const q = new ReceiveQueue<number>(4, (n) => n % 2 === 1)
  for (const n of [2, 3, 4, 5]) q.push(n)
  t.equal(q.push(6), 3, 'the oldest expendable entry made room, not the older REQUEST')
  t.equal(q.push(8), 5)
  t.equal(q.push(10), 2, 'nothing expendable left: the oldest goes')
  t.same([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [4, 6, 8, 10, undefined], 'the rest in arrival order')
  t.equal(q.dropped, 3)
  // Wrapped ring: the gap closes across the end of the array.
  const w = new ReceiveQueue<number>(3, (n) => n % 2 === 1)
  for (const n of [2, 4, 6]) w.push(n)
  w.shift()
  w.shift()
  w.push(7)
  w.push(8)
  t.equal(w.push(10), 7)
  t.same([w.shift(), w.shift(), w.shift()], [6, 8, 10])
})

t.test('isDiscover reads option 53 off the raw bytes; anything malformed is not a DISCOVER', async (t) => {
  const packet = (options: number[]): Buffer => {
    const b = Buffer.alloc(240 + options.length)
    b[0] = 1
    b.writeUInt32BE(0x63825363, 236)
    Buffer.from(options).copy(b, 240)
    return b
  }
  t.ok(isDiscover(packet([53, 1, 1, 255])))
  t.ok(isDiscover(packet([0, 0, 12, 2, 0x61, 0x62, 53, 1, 1, 255])), 'after pads and another option')
  t.notOk(isDiscover(packet([53, 1, 3, 255])), 'a REQUEST')
  t.notOk(isDiscover(packet([255, 53, 1, 1])), 'after the end option')
  t.notOk(isDiscover(packet([12, 200, 53, 1, 1])), 'an option running past the end')
  t.notOk(isDiscover(packet([53, 2, 1, 1, 255])), 'a bad length')
  t.notOk(isDiscover(packet([53])), 'truncated')
  const reply = packet([53, 1, 1, 255])
  reply[0] = 2
  t.notOk(isDiscover(reply), 'a BOOTREPLY')
  t.notOk(isDiscover(Buffer.alloc(100)), 'too short')
})
