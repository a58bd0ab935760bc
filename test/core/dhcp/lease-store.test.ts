import t from 'tap'
import { LeaseStore, type LeaseStoreOptions } from '../../../core/dhcp/lease-store.js'
import { sameSubnet } from '../../../core/dhcp/ipv4.js'

// The table alone (persistence: file-lease-backend.test.ts); `_dir` keeps the call sites as they were.
function store(_dir: string, extra: Partial<LeaseStoreOptions> = {}, clock = { now: 1_000_000 }): LeaseStore {
  return new LeaseStore({
    poolStart: '10.0.0.10',
    poolEnd: '10.0.0.13',
    reserved: new Map([[(10 << 24) + 12, 'aa:aa:aa:aa:aa:aa']]),
    excluded: new Set([(10 << 24) + 11]),
    inSubnet: (ip) => sameSubnet(ip, '10.0.0.0', '255.255.255.0'),
    maxOffers: 64,
    now: () => clock.now,
    ...extra,
  })
}

t.test('allocation skips reserved and excluded addresses, exhaustion is bounded', async (t) => {
  const s = store(t.testdir())
  t.equal(s.allocate('mac:1', '01'), '10.0.0.10')
  s.bind('mac:1', '01', '10.0.0.10', 30_000)
  t.equal(s.allocate('mac:2', '02'), '10.0.0.13', '.11 excluded, .12 reserved')
  s.bind('mac:2', '02', '10.0.0.13', 30_000)
  const started = process.hrtime.bigint()
  t.equal(s.allocate('mac:3', '03'), undefined, 'pool exhausted')
  t.ok(Number(process.hrtime.bigint() - started) < 50e6, 'exhaustion answers at once')
  t.ok(s.usableBy('10.0.0.12', 'mac:aa', 'aa:aa:aa:aa:aa:aa'), 'reserved address usable by its owner')
  t.notOk(s.usableBy('10.0.0.12', 'mac:3', '03'), 'and nobody else')
})

t.test('expired offers, releases and declines', async (t) => {
  const clock = { now: 1_000_000 }
  const s = store(t.testdir(), {}, clock)
  s.offer('mac:1', '01', '10.0.0.10', 1000)
  s.offer('mac:2', '02', '10.0.0.13', 1000)
  clock.now += 2000
  t.equal(s.allocate('mac:3', '03'), '10.0.0.10', 'an expired offer frees its address')
  s.bind('mac:3', '03', '10.0.0.10', 60_000)
  t.notOk(s.release('mac:9', '10.0.0.10'), 'only the holder can release')
  t.ok(s.release('mac:3', '10.0.0.10'))
  t.equal(s.forClient('mac:3')?.state, 'released', 'record kept for the next DISCOVER')
  t.ok(s.usableBy('10.0.0.10', 'mac:4', '04'), 'released address is free for others')
  s.offer('mac:3', '03', '10.0.0.13', 1000)
  t.ok(s.decline('mac:3', '10.0.0.13', 5000, 30_000), 'the holder of an offer can decline it')
  t.notOk(s.usableBy('10.0.0.13', 'mac:4', '04'), 'declined address is out of the pool')
  clock.now += 6000
  t.ok(s.usableBy('10.0.0.13', 'mac:4', '04'), 'until the decline time has passed')
})

t.test('hazard: a decline or release from another client leaves the lease alone', async (t) => {
  const clock = { now: 1_000_000 }
  const s = store(t.testdir(), {}, clock)
  s.bind('id:01aa', '01', '10.0.0.10', 60_000)
  t.notOk(s.decline('mac:01', '10.0.0.10', 5000, 30_000), 'same MAC, no client id: another client')
  t.notOk(s.decline('mac:02', '10.0.0.10', 5000, 30_000), 'another MAC')
  t.notOk(s.release('mac:02', '10.0.0.10'))
  t.match(s.at('10.0.0.10'), { key: 'id:01aa', state: 'bound' }, 'the owner still holds it')
  t.notOk(s.bindableBy('10.0.0.10', 'mac:02', '02'), 'and nobody else may bind it')
  clock.now += 61_000
  t.notOk(s.decline('id:01aa', '10.0.0.10', 5000, 120_000), 'an expired lease cannot be declined')
})

t.test('hazard: a DECLINE with a copied identity long after the ACK is refused', async (t) => {
  const clock = { now: 1_000_000 }
  const s = store(t.testdir(), {}, clock)
  s.bind('id:01aa', '01', '10.0.0.10', 3_600_000)
  clock.now += 20_000
  s.bind('id:01aa', '01', '10.0.0.10', 3_600_000, undefined, true)
  clock.now += 20_000
  t.notOk(s.decline('id:01aa', '10.0.0.10', 5000, 30_000), '40 s after the ACK, a renewal in between: refused')
  t.equal(s.at('10.0.0.10')?.state, 'bound')
  s.bind('id:01aa', '01', '10.0.0.10', 3_600_000) // INIT-REBOOT: the client checks again
  clock.now += 2_000
  t.ok(s.decline('id:01aa', '10.0.0.10', 5000, 30_000), 'right after an ACK the client checks: accepted')
})

t.test('hazard: offers from a flood cannot hold the pool', async (t) => {
  const clock = { now: 1_000_000 }
  const s = store(t.testdir(), { poolEnd: '10.0.0.20', maxOffers: 3 }, clock)
  for (let i = 0; i < 100; i++) {
    const key = `mac:f${i}`
    const ip = s.allocate(key, `f${i}`)
    t.ok(ip, `flood DISCOVER ${i} gets an address`)
    s.offer(key, `f${i}`, ip!, 5000)
  }
  t.equal(s.offerCount(), 3, 'at most maxOffers offers are held')
  t.equal(s.list().filter((l) => l.state === 'offered').length, 3)
  const ip = s.allocate('mac:real', 'real')
  t.ok(ip, 'a real client still gets an address')
  s.offer('mac:real', 'real', ip!, 5000)
  t.ok(s.bindableBy(ip!, 'mac:real', 'real'))

  const full = store(t.testdir(), { poolEnd: '10.0.0.13', maxOffers: 64 }, clock)
  full.offer('mac:a', 'a', '10.0.0.10', 5000)
  full.offer('mac:b', 'b', '10.0.0.13', 5000)
  t.equal(full.allocate('mac:c', 'c'), '10.0.0.10', 'a full pool gives the oldest offer to a new client')
  t.ok(full.bindableBy('10.0.0.13', 'mac:c', 'c'), "another client's offer does not block a REQUEST")
  full.bind('mac:d', 'd', '10.0.0.13', 60_000)
  t.equal(full.allocate('mac:c', 'c'), '10.0.0.10', 'bound addresses do not give way')
  full.bind('mac:e', 'e', '10.0.0.10', 60_000)
  t.equal(full.allocate('mac:c', 'c'), undefined, 'only bound addresses left: exhausted')
})

t.test('hazard: one MAC holds at most one offer, whatever client ids it sends', async (t) => {
  const s = store(t.testdir(), { poolEnd: '10.0.0.20' })
  for (let i = 0; i < 20; i++) {
    const key = `id:${i}`
    s.offer(key, '02:00:00:00:00:01', s.allocate(key, '02:00:00:00:00:01')!, 5000)
  }
  t.same(
    s
      .list()
      .filter((l) => l.state === 'offered')
      .map((l) => l.key),
    ['id:19'],
  )
  t.equal(s.offerCount(), 1)
})
