// The StateBackend contract, run against both backends (files, and a real PostgreSQL 15 from
// test/helpers/postgres.ts): versions and compare-and-set under parallel writers, exclusive
// sections, notifications, fixed-window counters, hostile keys.
import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import type { StateBackend } from '../../../core/state/state-backend.js'
import { nodeTs, REPO_ROOT } from '../../helpers/dhcp-server.js'
import { filesBackend, parallelIncrements, pgBackend, type Teardownable } from '../../helpers/state-backends.js'

const backends: Record<string, (t: Teardownable) => Promise<StateBackend>> = { files: filesBackend, postgres: (t) => pgBackend(t) }

t.test('files: 100 parallel increments with 2 libuv threads lose none (a read overlapping a write)', async (t) => {
  // The read took its version after reading the file: the old text with the new version, and a
  // compare-and-set on that pair overwrote the write. CI lost 1 of 40 once; 2 threads lost updates
  // in 3 of 5 rounds of this on the old code.
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeTs('test/helpers/files-cas-increments.ts'), '5', '100'], {
    cwd: REPO_ROOT,
    env: { ...process.env, UV_THREADPOOL_SIZE: '2' },
    timeout: 120_000,
  })
  t.same((JSON.parse(stdout) as { counts: number[] }).counts, [100, 100, 100, 100, 100])
})

for (const [name, open] of Object.entries(backends)) {
  t.test(`${name}: documents keep their value and version; compare-and-set refuses a stale version`, async (t) => {
    const b = await open(t)
    t.equal(await b.read('k1'), undefined)
    t.equal(await b.get('k1'), undefined)
    t.equal(await b.compareAndSet('k1', 1, { a: 1 }), undefined, 'no document: version 1 is stale')
    t.equal(await b.compareAndSet('k1', 0, { a: 1 }), 1)
    t.equal(await b.compareAndSet('k1', 0, { a: 2 }), undefined, 'exists: create refused')
    t.same(await b.get('k1'), { value: { a: 1 }, version: 1 })
    await b.write('k1', { a: 'x\u0000y', emoji: '🦆', big: 2 ** 53 - 1 })
    t.same(await b.get('k1'), { value: { a: 'x\u0000y', emoji: '🦆', big: 2 ** 53 - 1 }, version: 2 }, 'a NUL byte and non-ASCII survive')
    t.equal(await b.compareAndSet('k1', 1, 'late'), undefined)
    t.equal(await b.compareAndSet('k1', 2, 'on time'), 3)
    t.equal(await b.read('k1'), 'on time')
    await b.write('iscsi-cow/users/lab:alice', 1)
    await b.write('iscsi-cow/users/lab:bob', 2)
    t.same(await b.keys('iscsi-cow/users/'), ['iscsi-cow/users/lab:alice', 'iscsi-cow/users/lab:bob'])
    await b.delete('iscsi-cow/users/lab:bob')
    await b.delete('iscsi-cow/users/lab:bob')
    t.same(await b.keys('iscsi-cow/'), ['iscsi-cow/users/lab:alice'])
    t.equal(await b.compareAndSet('iscsi-cow/users/lab:bob', 0, 'again'), 1, 'a deleted document starts over')
  })

  t.test(`${name}: 40 parallel compare-and-set increments lose none`, async (t) => {
    const b = await open(t)
    await b.write('n', 0)
    const tries = await parallelIncrements(b, 'n', 40)
    t.equal(await b.read('n'), 40)
    t.ok(tries.length === 40)
  })

  t.test(`${name}: hostile keys and channels are refused before any I/O`, async (t) => {
    const b = await open(t)
    for (const key of ['', '../etc/passwd', 'a/../b', 'A', "x'; DROP TABLE bp_state_documents; --", 'a b', 'é', 'x'.repeat(201), 'a//b', '/abs']) {
      await t.rejects(b.write(key, 1), TypeError, `write ${JSON.stringify(key).slice(0, 30)}`)
      await t.rejects(b.get(key), TypeError)
      await t.rejects(b.addToCounter(key, 1, 1000), TypeError)
      t.throws(() => b.withLock(key, async () => 1), TypeError)
    }
    t.throws(() => b.subscribe('bp state', () => undefined), TypeError)
    await t.rejects(b.publish('ok', 'x'.repeat(7001)), RangeError)
    await t.rejects(b.write('ok', undefined), TypeError)
  })

  t.test(`${name}: withLock runs holders of one key one at a time, other keys in parallel`, async (t) => {
    const b = await open(t)
    let inside = 0
    let most = 0
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        b.withLock('user:alice', async () => {
          inside++
          most = Math.max(most, inside)
          await sleep(5)
          order.push(i)
          inside--
        }),
      ),
    )
    t.equal(most, 1)
    t.same(
      order,
      [...order].sort((x, y) => x - y),
      'in arrival order',
    )
    await t.rejects(
      b.withLock('user:bob', async () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    t.equal(await b.withLock('user:bob', async () => 'after a throw'), 'after a throw')
    // Different keys overlap: each holder waits (up to 10 s) for the other to enter while it holds
    // its own lock. A fixed 30 ms sleep missed the other's entry on a loaded host.
    const entered = new Map<string, () => void>()
    const entries = new Map(['a', 'b'].map((k) => [k, new Promise<void>((resolve) => entered.set(k, resolve))]))
    const saw = await Promise.all(
      ['a', 'b'].map((k) =>
        b.withLock(`k:${k}`, async () => {
          entered.get(k)!()
          const other = entries.get(k === 'a' ? 'b' : 'a')!
          return Promise.race([other.then(() => true), sleep(10_000, false, { ref: false })])
        }),
      ),
    )
    t.same(saw, [true, true], 'each lock was held while the other key was taken')
  })

  t.test(`${name}: subscribers hear publications and document changes`, async (t) => {
    const b = await open(t)
    const heard: (string | undefined)[] = []
    const docs: (string | undefined)[] = []
    const off = b.subscribe('cache', (p) => heard.push(p))
    b.subscribe('doc', (p) => docs.push(p))
    b.subscribe('cache', () => {
      throw new Error('a bad listener')
    })
    await b.publish('cache', 'one')
    await b.write('d1', 1)
    await b.compareAndSet('d1', 9, 2)
    off()
    await b.publish('cache', 'two')
    t.same(heard, ['one'])
    t.same(docs, ['d1'], 'a refused compare-and-set notifies nothing')
  })

  t.test(`${name}: counters add within a window and start over after it`, async (t) => {
    const b = await open(t)
    // Counting in a 60 s window: every add and read below must land in it, and on a loaded host
    // they outlasted a 600 ms one. Expiry is tested after, with a short window waited past.
    const w1 = await b.addToCounter('u:alice', 1, 60_000)
    t.equal(w1.count, 1)
    t.ok(w1.resetAt > Date.now() + 30_000 && w1.resetAt <= Date.now() + 60_050, 'resetAt ~ window ahead')
    const all = await Promise.all(Array.from({ length: 30 }, () => b.addToCounter('u:alice', 1, 60_000)))
    t.same(
      all.map((w) => w.count).sort((x, y) => x - y),
      Array.from({ length: 30 }, (_, i) => i + 2),
      'each parallel add saw its own count',
    )
    t.equal((await b.readCounter('u:alice'))!.count, 31)
    t.equal((await b.addToCounter('u:alice', -1, 60_000)).count, 30)
    await b.resetCounter('u:alice')
    t.equal(await b.readCounter('u:alice'), undefined)

    // Waited past by its own resetAt: however long the add took, the window is over.
    const short = await b.addToCounter('u:bob', 5, 300)
    t.equal(short.count, 5)
    await sleep(Math.max(0, short.resetAt - Date.now()) + 200)
    t.equal(await b.readCounter('u:bob'), undefined, 'expired')
    t.equal((await b.addToCounter('u:bob', 1, 300)).count, 1, 'a new window')
  })
}
