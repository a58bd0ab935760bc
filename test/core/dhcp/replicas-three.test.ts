/**
 * Full-mode DHCP on three replicas sharing their leases in PostgreSQL, with real busybox udhcpc
 * clients all started at once (replicas.test.ts is the two-replica case, with the database crash).
 * Three DHCP processes, each in its own network namespace on one bridge, answer every DISCOVER, so
 * each client's REQUEST races across three servers. One replica is SIGKILLed while the burst runs,
 * once the database holds half the leases: any client still in flight must be leased by the other
 * two, and the dead replica's clients, renewing, must be acknowledged by a survivor with the very
 * address they had. The replicas reach PostgreSQL over its unix socket,
 * which a network namespace does not hide.
 */
import t from 'tap'
import type { DhcpConfig } from '../../../core/dhcp/config-schema.js'
import { renewEach, type UdhcpcDaemon, udhcpcDaemon } from '../../helpers/dhcp-clients.js'
import { type DhcpServerHandle, startDhcpServer } from '../../helpers/dhcp-server.js'
import { createLan } from '../../helpers/netns.js'
import { createDatabase } from '../../helpers/postgres.js'

// 24 s on a quiet box, 34–98 s at load average 10–27: generous, above tap's 120 s default here.
t.setTimeout(300_000)
const CLIENTS = Number(process.env.BP_REPLICA_CLIENTS ?? 100)
const REPLICAS = ['10.78.0.1', '10.78.0.2', '10.78.0.3'] as const

const replicaConfig = (address: string): DhcpConfig => ({
  mode: 'full',
  serverAddress: address,
  interface: 'eth0',
  pool: { start: '10.78.0.100', end: '10.78.0.219' },
  subnetMask: '255.255.255.0',
  leaseSeconds: 3600,
})

/**
 * The client's first `bound` event. A NAK (its REQUEST lost a race settled by the database) or a
 * leasefail (its DORA was cut short when a replica died) is counted and the client keeps trying.
 */
async function firstBound(c: UdhcpcDaemon, retries: { nak: number; leasefail: number }): Promise<Record<string, string>> {
  for (let from = 0; ; ) {
    const e = await c.next(from, 90_000)
    from = c.events.indexOf(e) + 1
    if (e.EVENT === 'nak') retries.nak++
    else if (e.EVENT === 'leasefail') retries.leasefail++
    else return e
  }
}

t.test(`three replicas, ${CLIENTS} udhcpc clients at once, one replica SIGKILLed once half are leased`, async (t) => {
  const started = Date.now()
  const db = await createDatabase(t)
  const state = { backend: 'postgres', url: `postgres://bp_test@localhost:${db.cluster.port}/${db.name}?host=${encodeURIComponent(db.cluster.socketDir)}`, passwordFile: db.passwordFile }
  const lan = await createLan(t, [...REPLICAS.map((address, i) => ({ name: `r${i + 1}`, address: `${address}/24` })), ...Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` }))])
  const replicas = new Map<string, DhcpServerHandle>()
  for (const [i, address] of REPLICAS.entries()) replicas.set(address, await startDhcpServer(lan, `r${i + 1}`, replicaConfig(address), { state, logLevel: 'info' }))
  t.teardown(() => Promise.all([...replicas.values()].map((r) => r.stop())))

  // Connected before the clients start: the whole burst can be over within a second or two.
  const pgc = await db.cluster.admin(db.name)
  t.teardown(() => pgc.end())
  const leasedInDb = async (): Promise<number> => Number((await pgc.query<{ n: string }>("SELECT count(*) AS n FROM bp_dhcp_leases WHERE state = 'bound'")).rows[0]!.n)
  const clients: UdhcpcDaemon[] = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => udhcpcDaemon(lan, `c${i}`)))
  t.teardown(() => Promise.all(clients.map((c) => c.stop())))
  const retries = { nak: 0, leasefail: 0 }
  const bound: Array<Record<string, string> | undefined> = Array.from({ length: CLIENTS })
  const all = Promise.all(clients.map((c, i) => firstBound(c, retries).then((e) => (bound[i] = e))))

  // Once the database holds half the leases (the servers' view: udhcpc's own reports lag behind
  // by seconds on a loaded box), the replica that clients report most ACKs from dies. Group
  // commit lands most of the burst in one or two commits, so by then the burst is nearly over:
  // how many clients were still in flight is reported, not asserted.
  for (const deadline = Date.now() + 120_000; (await leasedInDb()) < CLIENTS / 2; ) {
    if (Date.now() > deadline) throw new Error(`fewer than ${CLIENTS / 2} leases in the database after 120 s`)
    await new Promise((r) => setTimeout(r, 10))
  }
  const counts = REPLICAS.map((a) => bound.filter((e) => e?.serverid === a).length)
  const victimId = REPLICAS[counts.indexOf(Math.max(...counts))]!
  await replicas.get(victimId)!.kill()
  // With the victim gone, every lease the database does not hold yet is a survivor's to give.
  const leasedAfter = await leasedInDb()
  t.comment(`killed ${victimId} (clients had reported ${counts.join('/')} ACKs per replica); ${leasedAfter} of ${CLIENTS} leases in the database once it was dead`)
  await all
  t.comment(`${retries.nak} NAKs and ${retries.leasefail} leasefails on the way`)
  const ips = bound.map((e) => e!.ip)
  t.equal(ips.filter(Boolean).length, CLIENTS, 'every client leased')
  t.equal(new Set(ips).size, CLIENTS, 'no address handed to two clients')
  const survivors: string[] = REPLICAS.filter((a) => a !== victimId)
  const anySurvivor = replicas.get(survivors[0]!)!
  const leases = (await anySurvivor.leases()).filter((l) => l.state === 'bound')
  t.same(leases.map((l) => l.ip).sort(), [...ips].sort(), 'the database holds exactly the acknowledged leases')
  const finalCounts = REPLICAS.map((a) => bound.filter((e) => e!.serverid === a).length)
  t.ok(
    finalCounts.every((n) => n > 0),
    `all three replicas acknowledged leases (${finalCounts.join('/')})`,
  )

  const orphans = clients.map((c, i) => ({ c, i })).filter(({ i }) => bound[i]!.serverid === victimId)
  const renewed = await renewEach(orphans.map(({ c }) => c))
  t.same(
    renewed.filter((e) => e.EVENT !== 'renew' || !survivors.includes(e.serverid ?? '')).map((e) => [e.EVENT, e.serverid]),
    [],
    `all ${orphans.length} orphaned clients rebound at a surviving replica`,
  )
  t.comment(`rebound at ${survivors.map((s) => `${s}: ${renewed.filter((e) => e.serverid === s).length}`).join(', ')}`)
  t.same(
    renewed.map((e) => e.ip),
    orphans.map(({ i }) => ips[i]),
    'each kept its address',
  )
  t.comment(`test body took ${Math.round((Date.now() - started) / 1000)} s`)
})
