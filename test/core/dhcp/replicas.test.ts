/**
 * Full-mode DHCP on two replicas sharing their leases in PostgreSQL: two bootpolicy DHCP
 * processes (each in its own network namespace, one bridge) and real busybox udhcpc clients, all
 * started at once. Both replicas answer every DISCOVER, so the clients' REQUESTs race across them:
 * the database must settle it (no address twice, every client leased). Then one replica is
 * SIGKILLed and its clients renew: after their unicast renewals go unanswered they rebind by
 * broadcast and the other replica must ACK the very same address. The replicas reach PostgreSQL
 * over its unix socket, which a network namespace does not hide.
 */
import t from 'tap'
import type { DhcpConfig } from '../../../core/dhcp/config-schema.js'
import { renewEach, udhcpc, udhcpcDaemon, type UdhcpcDaemon } from '../../helpers/dhcp-clients.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { createLan } from '../../helpers/netns.js'
import { createDatabase } from '../../helpers/postgres.js'

// Its waits alone may take 195 s (90 s for the first leases, 60 s for the renewals, 2 x 20 s and
// 5 s), on top of 103 namespaces, PostgreSQL and 100 clients to start: more than tap's 300 s per
// file leaves on a loaded host.
t.setTimeout(600_000)

/** The client's first `bound` event; a NAK on the way (its REQUEST lost the race to another replica's client) is counted. */
async function firstBound(c: UdhcpcDaemon, naks: { n: number }): Promise<Record<string, string>> {
  for (let from = 0; ; ) {
    const e = await c.next(from, 90_000)
    from = c.events.indexOf(e) + 1
    if (e.EVENT !== 'nak') return e
    naks.n++
  }
}

const CLIENTS = Number(process.env.BP_REPLICA_CLIENTS ?? 100)
const replicaConfig = (address: string): DhcpConfig => ({
  mode: 'full',
  serverAddress: address,
  interface: 'eth0',
  pool: { start: '10.77.0.100', end: '10.77.0.219' },
  subnetMask: '255.255.255.0',
  leaseSeconds: 3600,
})

t.test(`two replicas, ${CLIENTS} udhcpc clients at once: no address twice; a killed replica's clients renew at the other`, async (t) => {
  const db = await createDatabase(t)
  const state = { backend: 'postgres', url: `postgres://bp_test@localhost:${db.cluster.port}/${db.name}?host=${encodeURIComponent(db.cluster.socketDir)}`, passwordFile: db.passwordFile }
  const lan = await createLan(t, [
    { name: 'r1', address: '10.77.0.1/24' },
    { name: 'r2', address: '10.77.0.2/24' },
    ...Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })),
    { name: 'late' },
  ])
  const r1 = await startDhcpServer(lan, 'r1', replicaConfig('10.77.0.1'), { state, logLevel: 'info' })
  const r2 = await startDhcpServer(lan, 'r2', replicaConfig('10.77.0.2'), { state, logLevel: 'info' })
  t.teardown(async () => {
    await r1.stop()
    await r2.stop()
  })

  const clients: UdhcpcDaemon[] = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => udhcpcDaemon(lan, `c${i}`)))
  t.teardown(() => Promise.all(clients.map((c) => c.stop())))
  const naks = { n: 0 }
  const bound = await Promise.all(clients.map((c) => firstBound(c, naks)))
  t.comment(`${naks.n} NAKs on the way (REQUESTs that lost a race settled by the database)`)
  t.same(
    bound.filter((e) => e.EVENT !== 'bound').map((e) => e.EVENT),
    [],
    'every client leased',
  )
  const ips = bound.map((e) => e.ip)
  t.equal(new Set(ips).size, CLIENTS, 'no address handed to two clients')
  const leases = (await r1.leases()).filter((l) => l.state === 'bound')
  t.same(leases.map((l) => l.ip).sort(), [...ips].sort(), 'the database holds exactly the acknowledged leases')
  const by1 = bound.filter((e) => e.serverid === '10.77.0.1').length
  t.ok(by1 > 0 && by1 < CLIENTS, `both replicas acknowledged leases (r1 ${by1}, r2 ${CLIENTS - by1})`)

  // The replica that acknowledged more leases dies without warning.
  const [victim, victimId, survivorId, survivor] = by1 >= CLIENTS - by1 ? [r1, '10.77.0.1', '10.77.0.2', r2] : [r2, '10.77.0.2', '10.77.0.1', r1]
  await victim.kill()
  const orphans = clients.map((c, i) => ({ c, i })).filter(({ i }) => bound[i]!.serverid === victimId)
  const renewed = await renewEach(orphans.map(({ c }) => c))
  t.same(
    renewed.map((e) => [e.EVENT, e.serverid]),
    orphans.map(() => ['renew', survivorId]),
    `all ${orphans.length} orphaned clients rebound at the surviving replica`,
  )
  t.same(
    renewed.map((e) => e.ip),
    orphans.map(({ i }) => ips[i]),
    'each kept its address',
  )

  // PostgreSQL crashes (immediate stop): a new client gets nothing (fail closed), loudly.
  await db.cluster.stop('immediate')
  try {
    await t.rejects(udhcpc(lan, 'late'), /udhcpc got no lease: (?!Error: no host)/, 'no lease while the database is down')
    const line = await survivor.waitForLog('dhcp lease database unreachable, request not answered', 5000)
    t.equal(line.level, 50, 'logged at error')
  } finally {
    await db.cluster.start()
  }
  const late = await udhcpc(lan, 'late')
  t.ok(late.ip && !ips.includes(late.ip), `service resumes once PostgreSQL is back (${late.ip})`)
  const after = new Set((await survivor.leases()).filter((l) => l.state === 'bound').map((l) => l.ip))
  t.same(
    ips.filter((ip) => !after.has(ip!)),
    [],
    'nothing acknowledged before the crash is lost',
  )
})
