/**
 * The allocation order of allocation-order.ts, one table of cases run against both lease
 * backends: the lease file (FileLeaseBackend on a real file) and PostgreSQL (a real PostgreSQL 15
 * from test/helpers/postgres.ts, bp_dhcp_offer). Both must give the same answer; the pool's start
 * point differs by design (a cursor, a random point), so pool answers are checked as a set.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { ALLOCATION_ORDER } from '../../../core/dhcp/allocation-order.js'
import { FileLeaseBackend } from '../../../core/dhcp/file-lease-backend.js'
import { DHCP_MIGRATIONS } from '../../../core/dhcp/lease-migrations.js'
import type { LeaseBackend } from '../../../core/dhcp/lease-backend.js'
import { ipToInt, sameSubnet } from '../../../core/dhcp/ipv4.js'
import { PostgresLeaseBackend } from '../../../core/dhcp/postgres-lease-backend.js'
import { MigrationRegistry } from '../../../core/state/migrations.js'
import { createDatabase } from '../../helpers/postgres.js'
import { pgBackend } from '../../helpers/state-backends.js'

const mac = (i: number): string => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`
const key = (i: number): string => `mac:${mac(i)}`
const HOUR = 3_600_000
/** 10.0.0.10–10.0.0.19 without the excluded .11 and the reservation .12 (for mac 99): 8 dynamic addresses. */
const DYNAMIC = ['10.0.0.10', '10.0.0.13', '10.0.0.14', '10.0.0.15', '10.0.0.16', '10.0.0.17', '10.0.0.18', '10.0.0.19']
const table = (now: () => number) => ({
  poolStart: '10.0.0.10',
  poolEnd: '10.0.0.19',
  reserved: new Map([[ipToInt('10.0.0.12'), mac(99)]]),
  excluded: new Set([ipToInt('10.0.0.11')]),
  inSubnet: (ip: string) => sameSubnet(ip, '10.0.0.0', '255.255.255.0'),
  now,
})

interface Clocked {
  readonly b: LeaseBackend
  /** Moves the backend's clock on. */
  tick(ms: number): void
}

type Make = (t: Test) => Promise<Clocked>
const backends: [string, Make][] = [
  [
    'files',
    async (t) => {
      let clock = 1_800_000_000_000
      const b = new FileLeaseBackend({ ...table(() => clock), file: join(t.testdir(), 'leases.json'), maxOffers: 64 })
      await b.load()
      t.teardown(() => b.close())
      return { b, tick: (ms) => void (clock += ms) }
    },
  ],
  [
    'postgres',
    async (t) => {
      let clock = 1_800_000_000_000
      const registry = new MigrationRegistry()
      registry.register('dhcp', DHCP_MIGRATIONS)
      const state = await pgBackend(t, await createDatabase(t), { registry })
      const b = new PostgresLeaseBackend(state, { ...table(() => clock), server: '10.0.0.1' })
      await b.load()
      t.teardown(() => b.close())
      return { b, tick: (ms) => void (clock += ms) }
    },
  ],
]

async function bound(b: LeaseBackend, i: number, ip: string, leaseMs = HOUR): Promise<void> {
  const change = await b.bind({ key: key(i), mac: mac(i), ip, leaseMs, renewal: false })
  if (!change) throw new Error(`${ip} not bindable for client ${i}`)
  const refused = await b.commit([change])
  if (refused && refused.size > 0) throw new Error(`${ip} refused for client ${i}`)
}
const offer = (b: LeaseBackend, i: number, requested?: string, fixed?: string) =>
  b.reserve({ key: key(i), mac: mac(i), holdMs: 30_000, ...(requested ? { requested } : {}), ...(fixed ? { fixed } : {}) })

/** One case: what the store holds first, then the DISCOVER and what it must be offered. */
const cases: [string, (c: Clocked) => Promise<void>, (c: Clocked) => Promise<string | undefined>, (ip: string | undefined) => boolean][] = [
  ['a reservation is offered, whatever the client asks for', async () => {}, ({ b }) => offer(b, 99, '10.0.0.15', '10.0.0.12'), (ip) => ip === '10.0.0.12'],
  ['the previous address beats the requested one', ({ b }) => bound(b, 1, '10.0.0.14'), ({ b }) => offer(b, 1, '10.0.0.15'), (ip) => ip === '10.0.0.14'],
  ['the requested address when nobody holds it', async () => {}, ({ b }) => offer(b, 1, '10.0.0.15'), (ip) => ip === '10.0.0.15'],
  ["not the requested address when it is another client's lease", ({ b }) => bound(b, 2, '10.0.0.15'), ({ b }) => offer(b, 1, '10.0.0.15'), (ip) => ip !== '10.0.0.15' && DYNAMIC.includes(ip!)],
  [
    "not the requested address when it is another client's offer",
    async ({ b }) => void (await offer(b, 2, '10.0.0.15')),
    ({ b }) => offer(b, 1, '10.0.0.15'),
    (ip) => ip !== '10.0.0.15' && DYNAMIC.includes(ip!),
  ],
  ['an excluded address is not offered when requested', async () => {}, ({ b }) => offer(b, 1, '10.0.0.11'), (ip) => DYNAMIC.includes(ip!)],
  ["another client's reservation is not offered when requested", async () => {}, ({ b }) => offer(b, 1, '10.0.0.12'), (ip) => DYNAMIC.includes(ip!)],
  [
    'a previous address another client got after the lease ran out: the requested one',
    async (c) => {
      await bound(c.b, 1, '10.0.0.14', 1000)
      c.tick(2000)
      await bound(c.b, 2, '10.0.0.14')
    },
    ({ b }) => offer(b, 1, '10.0.0.16'),
    (ip) => ip === '10.0.0.16',
  ],
  ['a retransmitted DISCOVER gets the same offer', async ({ b }) => void (await offer(b, 1)), ({ b }) => offer(b, 1), (ip) => DYNAMIC.includes(ip!)],
  [
    "pool full of other clients' offers: the oldest gives way",
    async (c) => {
      for (let i = 1; i <= 8; i++) {
        await offer(c.b, i, DYNAMIC[i - 1])
        c.tick(1000)
      }
    },
    ({ b }) => offer(b, 20),
    (ip) => ip === DYNAMIC[0],
  ],
  [
    'pool full of leases: no offer',
    async ({ b }) => {
      for (let i = 1; i <= 8; i++) await bound(b, i, DYNAMIC[i - 1]!)
    },
    ({ b }) => offer(b, 20),
    (ip) => ip === undefined,
  ],
]

t.same(ALLOCATION_ORDER, ['reservation', 'previous', 'requested', 'pool'], 'the order both backends follow')

for (const [name, make] of backends) {
  t.test(`allocation order on the ${name} backend`, async (t) => {
    for (const [what, setup, discover, ok] of cases) {
      const c = await make(t)
      await setup(c)
      const first = await discover(c)
      t.ok(ok(first), `${what} (offered ${first})`)
      if (what.startsWith('a retransmitted')) t.equal(await discover(c), first, 'and again the same')
    }
  })
}
