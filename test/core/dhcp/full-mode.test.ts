/**
 * Full mode against real clients (busybox udhcpc, ISC dhclient) and scripted packets, all inside
 * network namespaces this test creates: srv runs the service, the others are clients or a relay.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { createLan } from '../../helpers/netns.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { dhclient, probe, udhcpc } from '../../helpers/dhcp-clients.js'
import { clientPacket } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../../core/dhcp/options.js'
import type { DhcpConfig } from '../../../core/dhcp/config-schema.js'

const ip4 = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number))
const BCAST = '255.255.255.255'

const config: DhcpConfig = {
  mode: 'full',
  serverAddress: '10.77.0.1',
  interface: 'eth0',
  pool: { start: '10.77.0.100', end: '10.77.0.120' },
  subnetMask: '255.255.255.0',
  router: '10.77.0.1',
  dnsServers: ['10.77.0.53', '10.77.0.54'],
  domain: 'home.example',
  ntpServers: ['10.77.0.123'],
  leaseSeconds: 3600,
  declineSeconds: 300,
  reservations: [{ mac: '52:54:00:aa:00:01', ip: '10.77.0.53', hostname: 'photosmart' }],
}

t.test('full mode with real clients', async (t) => {
  const lan = await createLan(t, [
    { name: 'srv', address: '10.77.0.1/24' },
    { name: 'busy' },
    { name: 'isc' },
    { name: 'resv', mac: '52:54:00:aa:00:01' },
    { name: 'pc', address: '10.77.0.9/24' },
    { name: 'relay', address: '10.77.0.2/24' },
  ])
  let srv = await startDhcpServer(lan, 'srv', config)

  await t.test('busybox udhcpc gets a lease with every configured option', async (t) => {
    t.same(await udhcpc(lan, 'busy', ['-O', 'ntpsrv']), {
      EVENT: 'bound',
      ip: '10.77.0.100',
      subnet: '255.255.255.0',
      broadcast: '10.77.0.255',
      router: '10.77.0.1',
      dns: '10.77.0.53 10.77.0.54',
      domain: 'home.example',
      lease: '3600',
      serverid: '10.77.0.1',
      ntpsrv: '10.77.0.123',
    })
  })

  await t.test('ISC dhclient gets a lease', async (t) => {
    const got = await dhclient(lan, 'isc')
    t.match(got, {
      reason: 'BOUND',
      ip_address: '10.77.0.101',
      subnet_mask: '255.255.255.0',
      broadcast_address: '10.77.0.255',
      routers: '10.77.0.1',
      domain_name_servers: '10.77.0.53 10.77.0.54',
      domain_name: 'home.example',
      ntp_servers: '10.77.0.123',
      dhcp_server_identifier: '10.77.0.1',
      dhcp_lease_time: '3600',
      dhcp_renewal_time: '1800',
      dhcp_rebinding_time: '3150',
    })
  })

  await t.test('a reservation is honoured, with its hostname', async (t) => {
    const got = await udhcpc(lan, 'resv')
    t.same([got.ip, got.hostname], ['10.77.0.53', 'photosmart'])
  })

  await t.test('leases survive a crash and a restart', async (t) => {
    const before = (await srv.leases()).filter((l) => l.state === 'bound')
    t.equal(before.length, 3)
    await srv.kill() // SIGKILL: no chance to flush; ACKed leases must already be on disk
    srv = await startDhcpServer(lan, 'srv', config, { stateDir: srv.stateDir })
    t.same(
      (await srv.leases()).filter((l) => l.state === 'bound'),
      before,
    )
    t.equal((await udhcpc(lan, 'busy')).ip, '10.77.0.100', 'the client gets its address back')
    const file = await readFile(`${srv.stateDir}/dhcp-leases.json`, 'utf8')
    t.equal(file.split('\n')[0], '{"version":3}', 'a lease journal (docs: Lease file)')
  })

  await t.test('dhclient INIT-REBOOT keeps its address after the restart', async (t) => {
    const first = await dhclient(lan, 'isc', { leaseFile: `${srv.stateDir}/isc.leases` })
    const again = await dhclient(lan, 'isc', { leaseFile: `${srv.stateDir}/isc.leases` })
    t.same([again.reason, again.ip_address], ['REBOOT', first.ip_address])
  })

  const mac = '02:00:00:00:77:01'
  const send = (bytes: Buffer, to = BCAST, port = 67) => ({ bytes, to, port })
  const ask = async (bytes: Buffer, xid: number, opts: { to?: string; host?: string; bindPort?: number } = {}) =>
    (await probe(lan, opts.host ?? 'pc', { send: [send(bytes, opts.to)], listenMs: 800, ...(opts.bindPort ? { bindPort: opts.bindPort } : {}) })).filter((r) => r.packet.xid === xid)

  await t.test('NAK, silence and the requests meant for another server', async (t) => {
    const initReboot = encode(clientPacket({ mac, xid: 11, type: MessageType.REQUEST, options: [[Opt.REQUESTED_IP, ip4('10.99.0.5')]] }))
    const [nak, ...more] = await ask(initReboot, 11)
    t.equal(more.length, 0)
    t.same([nak?.packet.messageType, nak?.packet.yiaddr, nak?.from], [MessageType.NAK, '0.0.0.0', '10.77.0.1'], 'INIT-REBOOT for a foreign address: NAK')

    const taken = encode(clientPacket({ mac, xid: 12, type: MessageType.REQUEST, options: [[Opt.REQUESTED_IP, ip4('10.77.0.100')]] }))
    t.equal((await ask(taken, 12))[0]?.packet.messageType, MessageType.NAK, 'address of another client: NAK')

    const reserved = encode(clientPacket({ mac, xid: 13, type: MessageType.REQUEST, options: [[Opt.REQUESTED_IP, ip4('10.77.0.53')]] }))
    t.equal((await ask(reserved, 13))[0]?.packet.messageType, MessageType.NAK, 'reserved address of another MAC: NAK')

    const other = encode(
      clientPacket({
        mac,
        xid: 14,
        type: MessageType.REQUEST,
        options: [
          [Opt.SERVER_ID, ip4('10.77.0.254')],
          [Opt.REQUESTED_IP, ip4('10.77.0.110')],
        ],
      }),
    )
    t.same(await ask(other, 14), [], 'server id of another server: silence')
  })

  await t.test('DISCOVER, REQUEST, DECLINE, RELEASE', async (t) => {
    const [offer] = await ask(encode(clientPacket({ mac, xid: 21 })), 21)
    t.equal(offer?.packet.messageType, MessageType.OFFER)
    const offered = offer!.packet.yiaddr
    const request = encode(
      clientPacket({
        mac,
        xid: 22,
        type: MessageType.REQUEST,
        options: [
          [Opt.SERVER_ID, ip4('10.77.0.1')],
          [Opt.REQUESTED_IP, ip4(offered)],
        ],
      }),
    )
    const [ack] = await ask(request, 22)
    t.same([ack?.packet.messageType, ack?.packet.yiaddr], [MessageType.ACK, offered])

    const decline = encode(
      clientPacket({
        mac,
        xid: 23,
        type: MessageType.DECLINE,
        options: [
          [Opt.SERVER_ID, ip4('10.77.0.1')],
          [Opt.REQUESTED_IP, ip4(offered)],
        ],
      }),
    )
    t.same(await ask(decline, 23), [], 'no reply to DECLINE')
    t.match(
      (await srv.leases()).find((l) => l.ip === offered),
      { state: 'declined', mac: '' },
    )
    const [next] = await ask(encode(clientPacket({ mac, xid: 24 })), 24)
    t.not(next?.packet.yiaddr, offered, 'a declined address is not offered again')

    const second = next!.packet.yiaddr
    await ask(
      encode(
        clientPacket({
          mac,
          xid: 25,
          type: MessageType.REQUEST,
          options: [
            [Opt.SERVER_ID, ip4('10.77.0.1')],
            [Opt.REQUESTED_IP, ip4(second)],
          ],
        }),
      ),
      25,
    )
    const release = encode(clientPacket({ mac, xid: 26, type: MessageType.RELEASE, ciaddr: second, broadcast: false, options: [[Opt.SERVER_ID, ip4('10.77.0.1')]] }))
    t.same(await ask(release, 26, { to: '10.77.0.1' }), [], 'no reply to RELEASE')
    t.match(
      (await srv.leases()).find((l) => l.ip === second),
      { state: 'bound', mac },
      'a RELEASE not sent from the leased address is refused',
    )
    // A real client releases from its leased address (RFC 2131 4.4.6).
    await lan.exec('pc', 'ip', ['addr', 'add', `${second}/24`, 'dev', 'eth0'])
    t.same(await probe(lan, 'pc', { send: [send(release, '10.77.0.1')], sourceAddress: second, listenMs: 500 }), [], 'no reply to RELEASE')
    await lan.exec('pc', 'ip', ['addr', 'del', `${second}/24`, 'dev', 'eth0'])
    t.match(
      (await srv.leases()).find((l) => l.ip === second),
      { state: 'released', mac },
    )
  })

  await t.test('INFORM: options, no address, unicast to ciaddr', async (t) => {
    const inform = encode(clientPacket({ mac: '02:00:00:00:77:09', xid: 31, type: MessageType.INFORM, ciaddr: '10.77.0.9', broadcast: false }))
    const [ack, ...more] = await ask(inform, 31, { to: '10.77.0.1' })
    t.equal(more.length, 0)
    const p = ack!.packet
    t.same([p.messageType, p.yiaddr, p.ciaddr], [MessageType.ACK, '0.0.0.0', '10.77.0.9'])
    t.notOk(p.options.has(Opt.LEASE_TIME), 'no lease time in an INFORM ACK')
    t.same(p.options.get(Opt.DNS), Buffer.from([10, 77, 0, 53, 10, 77, 0, 54]))
  })

  await t.test('relayed requests are answered unicast to the relay on port 67', async (t) => {
    const relayed = encode(clientPacket({ mac: '02:00:00:00:77:0a', xid: 41, giaddr: '10.77.0.2', broadcast: false }))
    const [offer] = await ask(relayed, 41, { host: 'relay', bindPort: 67, to: '10.77.0.1' })
    t.same([offer?.packet.messageType, offer?.from, offer?.port, offer?.packet.giaddr], [MessageType.OFFER, '10.77.0.1', 67, '10.77.0.2'])
    const foreign = encode(clientPacket({ mac: '02:00:00:00:77:0b', xid: 42, giaddr: '10.200.0.1', broadcast: false }))
    t.same(await ask(foreign, 42, { host: 'relay', bindPort: 67, to: '10.77.0.1' }), [], 'relay from a subnet not served: ignored')
  })

  await srv.stop()
  t.notOk(
    srv.logs.some((l) => l.level >= 50),
    'no error logged',
  )
})

t.test('pool exhaustion: no offer, a warning, no spinning', async (t) => {
  const lan = await createLan(t, [
    { name: 'srv', address: '10.79.0.1/24' },
    { name: 'pc', address: '10.79.0.9/24' },
  ])
  const srv = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.79.0.1', pool: { start: '10.79.0.100', end: '10.79.0.101' } })
  // Offers give way to new clients, so only bound leases exhaust the pool: bind both addresses.
  for (const i of [1, 2]) {
    const request = encode(clientPacket({ mac: `02:00:00:00:79:0${i}`, xid: 200 + i, type: MessageType.REQUEST, options: [[Opt.REQUESTED_IP, ip4(`10.79.0.10${i - 1}`)]] }))
    const [ack] = (await probe(lan, 'pc', { send: [{ bytes: request, to: BCAST, port: 67 }], listenMs: 800, expect: 1 })).filter((r) => r.packet.xid === 200 + i)
    t.equal(ack?.packet.messageType, MessageType.ACK, `client ${i} bound`)
  }
  const discovers = [3, 4, 5, 6].map((i) => ({ bytes: encode(clientPacket({ mac: `02:00:00:00:79:0${i}`, xid: 100 + i })), to: BCAST, port: 67 }))
  const replies = await probe(lan, 'pc', { send: discovers, listenMs: 1000, gapMs: 50 })
  t.same(
    replies.filter((r) => r.packet.xid > 100 && r.packet.xid < 200),
    [],
    'every address bound: no offer',
  )
  const warn = await srv.waitForLog('dhcp pool exhausted, no offer')
  t.match(warn, { err: { code: 'BP_ERR_DHCP_POOL_EXHAUSTED' } })
  const cpu = async (): Promise<number> => {
    const stat = (await readFile(`/proc/${srv.process.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
    return Number(stat[11]) + Number(stat[12]) // utime + stime, clock ticks
  }
  const before = await cpu()
  await probe(lan, 'pc', { send: discovers.concat(discovers), listenMs: 1000 })
  const used = (await cpu()) - before
  t.ok(used < 30, `server used ${used} ticks over 1 s while exhausted`)
  await srv.stop()
})
