/**
 * Group commit on its own: changes submitted while a write runs share the next write; each submit
 * resolves only after the write holding its change, and a failed write rejects exactly its own
 * batch (later changes are written by the next write). The writes are real timers, not mocks.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createGroupCommit } from '../../../core/dhcp/group-commit.js'

t.test('a burst of 200 concurrent submits shares a few writes; none resolves before its write', async (t) => {
  const written = new Set<number>()
  const batches: number[][] = []
  let concurrent = 0
  let maxConcurrent = 0
  const gc = createGroupCommit<number>(async (batch) => {
    concurrent++
    maxConcurrent = Math.max(maxConcurrent, concurrent)
    await sleep(5)
    for (const n of batch) written.add(n)
    batches.push([...batch])
    concurrent--
  })
  const early: number[] = []
  await Promise.all(
    Array.from({ length: 200 }, async (_, n) => {
      if (n % 3 === 0) await sleep(n % 7) // arrivals spread over the writes
      await gc.submit(n)
      if (!written.has(n)) early.push(n)
    }),
  )
  t.same(early, [], 'no submit resolved before its change was written')
  t.equal(maxConcurrent, 1, 'one write at a time')
  t.ok(batches.length < 200 / 4, `${batches.length} writes for 200 changes`)
  t.equal(gc.stats.committed, 200)
  t.equal(gc.stats.commits, batches.length)
  t.equal(batches.flat().length, 200, 'every change written exactly once')
})

t.test('hazard: a failing write rejects its own batch only; the next write goes on', async (t) => {
  let calls = 0
  const gc = createGroupCommit<string>(async (batch) => {
    calls++
    await sleep(5)
    if (batch.includes('bad')) throw new Error('disk full')
  })
  const first = gc.submit('bad')
  const sameBatch = gc.submit('bad') // queued behind the first write: joins the second
  const results = await Promise.allSettled([first, sameBatch, gc.submit('good')])
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'rejected'],
    'the second batch held a bad change too: all of it fails',
  )
  const ok = await Promise.allSettled([gc.submit('good'), gc.submit('fine')])
  t.same(
    ok.map((r) => r.status),
    ['fulfilled', 'fulfilled'],
    'after failures, later writes succeed',
  )
  t.equal(gc.stats.failures, 2)
  t.ok(calls >= 3)
  await gc.idle()
  const late = gc.submit('late')
  await t.resolves(late, 'a submit after the service went idle starts a new write')
})
