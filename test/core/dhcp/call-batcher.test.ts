/**
 * The call batcher on its own: items submitted while a call runs share the next call, each submit
 * settles with its own result, one call runs at a time, and a failed call (or one returning the
 * wrong number of results) rejects exactly its own batch. Real timers, no mocks.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createCallBatcher } from '../../../core/dhcp/call-batcher.js'

t.test('a burst of 100 submits shares a few calls; each gets its own result', async (t) => {
  const batches: number[][] = []
  let concurrent = 0
  let maxConcurrent = 0
  const calls = createCallBatcher<number, string>(async (batch) => {
    concurrent++
    maxConcurrent = Math.max(maxConcurrent, concurrent)
    await sleep(5)
    batches.push([...batch])
    concurrent--
    return batch.map((n) => `r${n}`)
  })
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, n) => {
      if (n % 4 === 0) await sleep(n % 9)
      return [n, await calls.submit(n)] as const
    }),
  )
  t.same(
    results.filter(([n, r]) => r !== `r${n}`),
    [],
    'every submit got the result for its own item',
  )
  t.equal(maxConcurrent, 1, 'one call at a time')
  t.ok(batches.length < 25, `${batches.length} calls for 100 items`)
  t.same(
    batches.flat().sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, n) => n),
    'every item called exactly once',
  )
  await calls.idle()
})

t.test('hazard: a failing call rejects its own batch only; the next call goes on', async (t) => {
  let call = 0
  const calls = createCallBatcher<number, number>(async (batch) => {
    call++
    await sleep(5)
    if (call === 2) throw new Error('store down')
    return batch.map((n) => n * 2)
  })
  const first = calls.submit(1)
  const second = [calls.submit(2), calls.submit(3)]
  await first
  const third = calls.submit(4)
  t.equal(await first, 2)
  for (const p of second) await t.rejects(p, /store down/, 'the failed call rejects its items')
  t.equal(await third, 8, 'the item after it is called again and served')
})

t.test('hazard: a call returning fewer results than items rejects its batch instead of resolving some with undefined', async (t) => {
  const calls = createCallBatcher<number, number>(async (batch) => batch.slice(1))
  await t.rejects(Promise.all([calls.submit(1), calls.submit(2)]), /returned 0 results for 1 items|returned 1 results for 2 items/)
  await calls.idle()
})

t.test('maxBatch: a burst larger than it is split into calls of at most that many, in order', async (t) => {
  const batches: number[][] = []
  const calls = createCallBatcher<number, number>(async (batch) => {
    batches.push([...batch])
    await sleep(2)
    return batch
  }, 4)
  const got = await Promise.all(Array.from({ length: 13 }, (_, n) => calls.submit(n)))
  t.same(
    got,
    Array.from({ length: 13 }, (_, n) => n),
    'each item its own result',
  )
  t.ok(
    batches.every((b) => b.length <= 4),
    `batch sizes ${batches.map((b) => b.length).join(', ')}`,
  )
  t.same(
    batches.flat(),
    Array.from({ length: 13 }, (_, n) => n),
    'called in submit order, each once',
  )
})
