/**
 * Leases belong to one client: a real busybox udhcpc holds a lease (its address on eth0) while an
 * attacker on the same bridge forges DECLINE, RELEASE and REQUEST packets for that address, with
 * other MACs and with the victim's own MAC and client id. The victim's lease must survive, and
 * its renewal (a real unicast REQUEST after SIGUSR1) must be ACKed with the same address.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { createLan } from '../../helpers/netns.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { probe, udhcpcDaemon } from '../../helpers/dhcp-clients.js'
import { clientPacket } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../../core/dhcp/options.js'

const SERVER = '10.81.0.1'
/** declineWindowSeconds for this test: short, so the test need not wait the default 30 s. */
const WINDOW_S = 2
const ip4 = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number))
const randomMac = (): string => ['02', ...Array.from(randomBytes(5), (b) => b.toString(16).padStart(2, '0'))].join(':')

t.test('lease ownership under forged packets', async (t) => {
  const lan = await createLan(t, [
    { name: 'srv', address: `${SERVER}/24` },
    { name: 'victim', mac: '52:54:00:81:00:01' },
    { name: 'evil', address: '10.81.0.66/24' },
  ])
  const srv = await startDhcpServer(lan, 'srv', {
    mode: 'full',
    serverAddress: SERVER,
    interface: 'eth0',
    pool: { start: '10.81.0.100', end: '10.81.0.120' },
    leaseSeconds: 3600,
    declineWindowSeconds: WINDOW_S,
  })
  const victim = await udhcpcDaemon(lan, 'victim')
  t.teardown(() => victim.stop())
  const bound = await victim.next(0)
  t.equal(bound.EVENT, 'bound', 'the victim has a lease')
  const address = bound.ip!
  const victimMac = lan.host('victim').mac
  // busybox udhcpc sends option 61 = 01 + MAC.
  const victimId = Buffer.from(`01${victimMac.replace(/:/g, '')}`, 'hex')
  const victimLease = async () => (await srv.leases()).find((l) => l.ip === address)
  t.match(await victimLease(), { state: 'bound', mac: victimMac, key: `id:${victimId.toString('hex')}` })

  const renewKeepsAddress = async (t: Test): Promise<void> => {
    const from = victim.events.length
    victim.renew()
    const event = await victim.next(from)
    t.same([event.EVENT, event.ip], ['renew', address], 'the victim renews and keeps its address')
    t.match(await victimLease(), { state: 'bound', mac: victimMac })
  }
  const broadcast = (bytes: Buffer) => ({ bytes, to: '255.255.255.255', port: 67 })

  await t.test('hazard: forged DECLINEs from other clients do not evict a bound lease', async (t) => {
    const decline = (mac: string, options: ReadonlyArray<readonly [number, Buffer]> = []) =>
      broadcast(
        encode(
          clientPacket({
            mac,
            type: MessageType.DECLINE,
            options: [...options, [Opt.SERVER_ID, ip4(SERVER)], [Opt.REQUESTED_IP, ip4(address)]],
          }),
        ),
      )
    const forged = [
      ...Array.from({ length: 10 }, () => decline(randomMac())),
      ...Array.from({ length: 6 }, () => decline(victimMac)), // the victim's MAC without its client id
      ...Array.from({ length: 6 }, () => decline(victimMac, [[Opt.CLIENT_ID, Buffer.from('01deadbeef0001', 'hex')]])),
      ...Array.from({ length: 2 }, () => broadcast(encode(clientPacket({ mac: randomMac(), type: MessageType.DECLINE, options: [[Opt.REQUESTED_IP, ip4(address)]] })))),
    ]
    t.same(await probe(lan, 'evil', { send: forged, listenMs: 500 }), [], 'no reply to any DECLINE')
    t.match(await victimLease(), { state: 'bound', mac: victimMac }, 'the lease is still bound to the victim')
    const warn = await srv.waitForLog('dhcp decline or release ignored', 5000)
    t.match(warn, { level: 40, err: { code: 'BP_ERR_DHCP_NOT_OWNER' } }, 'refused, with a warning and a code')
    const refusals = srv.logs.filter((l) => l.msg === 'dhcp decline or release ignored')
    t.equal(refusals.filter((l) => l.level === 40).length, 1, 'one warning for the burst: a flood of forgeries is not a flood of warnings')
    t.ok(refusals.length >= 20, `each refusal logged at debug (${refusals.length} of 24 seen)`)
    t.notOk(
      srv.logs.some((l) => l.msg === 'dhcp address declined, kept out of the pool'),
      'nothing was declined',
    )
    await renewKeepsAddress(t)
  })

  await t.test('hazard: forged RELEASEs and REQUESTs cannot take a bound address', async (t) => {
    const release = (mac: string, options: ReadonlyArray<readonly [number, Buffer]>) => ({
      bytes: encode(clientPacket({ mac, type: MessageType.RELEASE, ciaddr: address, broadcast: false, options: [...options, [Opt.SERVER_ID, ip4(SERVER)]] })),
      to: SERVER,
      port: 67,
    })
    const forged = [
      // The victim's full identity (MAC and client id, as seen in its broadcasts), sent from another address.
      ...Array.from({ length: 12 }, () => release(victimMac, [[Opt.CLIENT_ID, victimId]])),
      ...Array.from({ length: 12 }, () => release(randomMac(), [])),
    ]
    t.same(await probe(lan, 'evil', { send: forged, listenMs: 500 }), [], 'no reply to any RELEASE')
    t.match(await victimLease(), { state: 'bound', mac: victimMac }, 'the lease is still bound to the victim')

    const evilMac = lan.host('evil').mac
    const requests = Array.from({ length: 8 }, (_, i) =>
      broadcast(
        encode(
          clientPacket({
            mac: i < 4 ? evilMac : randomMac(),
            xid: 0x8100 + i,
            type: MessageType.REQUEST,
            options: [
              [Opt.SERVER_ID, ip4(SERVER)],
              [Opt.REQUESTED_IP, ip4(address)],
            ],
          }),
        ),
      ),
    )
    const replies = (await probe(lan, 'evil', { send: requests, listenMs: 800, expect: 8 })).filter((r) => r.packet.xid >= 0x8100 && r.packet.xid < 0x8108)
    t.same(
      replies.map((r) => r.packet.messageType),
      Array(8).fill(MessageType.NAK),
      'every REQUEST for the address is NAKed',
    )
    const [offer] = (
      await probe(lan, 'evil', { send: [broadcast(encode(clientPacket({ mac: evilMac, xid: 0x8199, options: [[Opt.REQUESTED_IP, ip4(address)]] })))], listenMs: 800, expect: 1 })
    ).filter((r) => r.packet.xid === 0x8199)
    t.equal(offer?.packet.messageType, MessageType.OFFER)
    t.not(offer?.packet.yiaddr, address, 'a DISCOVER asking for the address is offered another one')
    t.match(await victimLease(), { state: 'bound', mac: victimMac })
    await renewKeepsAddress(t)
  })

  await t.test("hazard: a DECLINE copying the victim's MAC and client id after its ARP check is refused", async (t) => {
    const lease = await victimLease()
    const wait = lease!.boundAt! + WINDOW_S * 1000 + 500 - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const forged = Array.from({ length: 12 }, () =>
      broadcast(
        encode(
          clientPacket({
            mac: victimMac,
            type: MessageType.DECLINE,
            options: [
              [Opt.CLIENT_ID, victimId],
              [Opt.SERVER_ID, ip4(SERVER)],
              [Opt.REQUESTED_IP, ip4(address)],
            ],
          }),
        ),
      ),
    )
    t.same(await probe(lan, 'evil', { send: forged, listenMs: 500 }), [], 'no reply')
    t.match(await victimLease(), { state: 'bound', mac: victimMac }, 'the lease is still bound to the victim')
    t.notOk(
      srv.logs.some((l) => l.msg === 'dhcp address declined, kept out of the pool'),
      'nothing was declined',
    )
    await renewKeepsAddress(t)
  })

  await t.test('the owner can still release its own lease', async (t) => {
    const from = victim.events.length
    await victim.stop() // SIGTERM: busybox udhcpc exits without releasing
    t.equal(victim.events.length, from)
    const release = {
      bytes: encode(
        clientPacket({
          mac: victimMac,
          type: MessageType.RELEASE,
          ciaddr: address,
          broadcast: false,
          options: [
            [Opt.CLIENT_ID, victimId],
            [Opt.SERVER_ID, ip4(SERVER)],
          ],
        }),
      ),
      to: SERVER,
      port: 67,
    }
    // Sent from the leased address, which udhcpc left on eth0.
    await lan.exec('victim', 'ip', ['addr', 'replace', `${address}/24`, 'dev', 'eth0'])
    const sent = await probe(lan, 'victim', { send: [release], sourceAddress: address, listenMs: 300 })
    t.same(sent, [])
    t.match(await victimLease(), { state: 'released', mac: victimMac })
  })

  await srv.stop()
  t.notOk(
    srv.logs.some((l) => l.level >= 50),
    'no error logged',
  )
})
