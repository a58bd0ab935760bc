/**
 * Offers are bounded: a flood of DISCOVERs from thousands of random MACs (a scripted attacker on
 * the same bridge) must not hold the pool, so a real busybox udhcpc still gets an address while
 * the flood runs, about as fast as on an idle server. One MAC cycling client ids holds one offer.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createLan } from '../../helpers/netns.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { probe, udhcpc } from '../../helpers/dhcp-clients.js'
import { clientPacket } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { Opt } from '../../../core/dhcp/options.js'

const SERVER = '10.82.0.1'
const FLOOD = 4000
/** The documented default of dhcp.offers.max. */
const OFFERS_MAX = 64
/** "Within a few seconds": the absolute floor of the latency bound, for a busy 2-core machine. */
const FLOOR_MS = 3000
const randomMac = (): string => ['02', ...Array.from(randomBytes(5), (b) => b.toString(16).padStart(2, '0'))].join(':')
const broadcast = (bytes: Buffer) => ({ bytes, to: '255.255.255.255', port: 67 })

t.test('offer limits under a DISCOVER flood', async (t) => {
  const lan = await createLan(t, [{ name: 'srv', address: `${SERVER}/24` }, { name: 'idle' }, { name: 'busy' }, { name: 'flood', address: '10.82.0.66/24' }])
  // 241 addresses: without a bound on offers, the flood holds every one of them.
  const srv = await startDhcpServer(
    lan,
    'srv',
    {
      mode: 'full',
      serverAddress: SERVER,
      interface: 'eth0',
      pool: { start: '10.82.0.10', end: '10.82.0.250' },
    },
    { logLevel: 'info' },
  )
  const offered = async (): Promise<number> => (await srv.leases()).filter((l) => l.state === 'offered').length
  const timed = async (host: string): Promise<{ ms: number; ip?: string; error?: string }> => {
    const started = Date.now()
    try {
      const lease = await udhcpc(lan, host)
      return { ms: Date.now() - started, ip: lease.ip! }
    } catch (err) {
      return { ms: Date.now() - started, error: (err as Error).message }
    }
  }

  await t.test('hazard: one MAC with many client ids holds one offer', async (t) => {
    const mac = randomMac()
    const discovers = Array.from({ length: 200 }, (_, i) => broadcast(encode(clientPacket({ mac, options: [[Opt.CLIENT_ID, Buffer.from(`ff${i.toString(16).padStart(8, '0')}`, 'hex')]] }))))
    await probe(lan, 'flood', { send: discovers, gapMs: 1, listenMs: 300 })
    const mine = (await srv.leases()).filter((l) => l.mac === mac && l.state === 'offered')
    t.equal(mine.length, 1, `one offer for the MAC (found ${mine.length})`)
    t.equal(await offered(), 1, 'and no other offer is held')
  })

  await t.test('hazard: a flood of DISCOVERs from new MACs does not starve a real client', async (t) => {
    const idle = await timed('idle')
    t.ok(idle.ip, `idle server: lease in ${idle.ms} ms`)
    t.equal((await srv.leases()).filter((l) => l.state === 'bound').length, 1)

    const discovers = Array.from({ length: FLOOD }, () => broadcast(encode(clientPacket({ mac: randomMac(), options: [[Opt.HOSTNAME, 'flood']] }))))
    let floodDone = 0
    const flood = probe(lan, 'flood', { send: discovers, gapMs: 1, listenMs: 100 }).then((r) => {
      floodDone = Date.now()
      return r
    })
    let peak = 0
    const deadline = Date.now() + 20_000
    // Wait until the flood is well under way (its offers are in the table), then a bit more.
    while (peak < 40 && Date.now() < deadline && floodDone === 0) {
      peak = Math.max(peak, await offered())
      await new Promise((r) => setTimeout(r, 50))
    }
    await new Promise((r) => setTimeout(r, 1000))
    peak = Math.max(peak, await offered())
    t.equal(floodDone, 0, 'the flood is still running when the real client asks')
    const during = await timed('busy')
    const servedAt = Date.now()
    peak = Math.max(peak, await offered())
    t.ok(during.ip, `a real client gets a lease during the flood (${during.error ?? `${during.ms} ms`})`)
    const bound = Math.max(2 * idle.ms, FLOOR_MS)
    t.ok(during.ms <= bound, `lease during the flood in ${during.ms} ms ≤ max(2 × idle ${idle.ms} ms, ${FLOOR_MS} ms)`)
    const replies = await flood
    t.ok(floodDone === 0 || floodDone >= servedAt, 'served while the flood was running')
    t.ok(replies.length > FLOOD / 2, `the flood was answered (${replies.length} offers): it was processed, not dropped`)
    t.ok(peak <= OFFERS_MAX, `at most ${OFFERS_MAX} offers held at once (peak seen ${peak})`)
    t.ok((await offered()) <= OFFERS_MAX)
  })

  await srv.stop()
  t.notOk(srv.exited && srv.process.exitCode !== 0, 'the server exited cleanly')
  t.same(
    srv.logs.filter((l) => l.level >= 50),
    [],
    'nothing logged at error level',
  )
})
