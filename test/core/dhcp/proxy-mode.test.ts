/**
 * proxyDHCP beside the site's DHCP server (dnsmasq in its own namespace on the same segment):
 * the site hands out addresses, bootpolicy only boot information, and only to PXE clients.
 */
import t from 'tap'
import { createLan } from '../../helpers/netns.js'
import { startDhcpServer } from '../../helpers/dhcp-server.js'
import { startDnsmasqDhcp } from '../../helpers/dnsmasq-dhcp.js'
import { probe, udhcpc } from '../../helpers/dhcp-clients.js'
import { clientPacket, IPXE_OPTIONS, pxeDiscover } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { MessageType, Opt } from '../../../core/dhcp/options.js'

const GUID = Buffer.from('0033221100554477668899aabbccddeeff', 'hex')

t.test('proxy mode beside dnsmasq', async (t) => {
  const lan = await createLan(t, [{ name: 'site', address: '10.78.0.1/24' }, { name: 'srv', address: '10.78.0.2/24' }, { name: 'pc', address: '10.78.0.9/24' }, { name: 'plain' }])
  const site = await startDnsmasqDhcp(lan, 'site', { rangeStart: '10.78.0.100', rangeEnd: '10.78.0.150' })
  const srv = await startDhcpServer(lan, 'srv', { mode: 'proxy', serverAddress: '10.78.0.2', boot: { httpPort: 8080 } })

  await t.test('a plain client gets its lease from the site server only', async (t) => {
    const got = await udhcpc(lan, 'plain')
    t.same([got.serverid, got.boot_file], ['10.78.0.1', undefined])
    t.match(got.ip, /^10\.78\.0\.1\d\d$/)
  })

  await t.test('a PXE DISCOVER gets the site OFFER and a proxy OFFER (golden)', async (t) => {
    const bytes = pxeDiscover('02:00:00:00:78:01', 7)
    const xid = bytes.readUInt32BE(4)
    const replies = (await probe(lan, 'pc', { send: [{ bytes, to: '255.255.255.255', port: 67 }], listenMs: 1500, expect: 2 })).filter((r) => r.packet.xid === xid)
    const fromSite = replies.find((r) => r.from === '10.78.0.1')
    const fromProxy = replies.find((r) => r.from === '10.78.0.2')
    t.match(fromSite?.packet, { messageType: MessageType.OFFER, yiaddr: /^10\.78\.0\.1\d\d$/ })
    t.same(fromProxy?.packet, {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid,
      secs: 0,
      flags: 0x8000,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      siaddr: '10.78.0.2',
      giaddr: '0.0.0.0',
      chaddr: Buffer.from('020000007801', 'hex'),
      sname: '',
      file: 'ipxe.efi',
      messageType: MessageType.OFFER,
      options: new Map<number, Buffer>([
        [53, Buffer.from([2])],
        [54, Buffer.from([10, 78, 0, 2])],
        [60, Buffer.from('PXEClient')],
        [43, Buffer.from([6, 1, 8, 255])],
        [97, GUID],
        [67, Buffer.from('ipxe.efi')],
        [66, Buffer.from('10.78.0.2')],
      ]),
    })
  })

  await t.test('the PXE REQUEST on port 4011 gets an ACK back to its address and port', async (t) => {
    const request = encode(
      clientPacket({
        mac: '02:00:00:00:78:01',
        xid: 0x4011,
        type: MessageType.REQUEST,
        ciaddr: '10.78.0.9',
        broadcast: false,
        options: [
          [Opt.VENDOR_CLASS, 'PXEClient:Arch:00007:UNDI:003016'],
          [Opt.CLIENT_ARCH, Buffer.from([0, 7])],
          [Opt.CLIENT_UUID, GUID],
          [Opt.PARAM_LIST, Buffer.from([1, 3, 43, 60, 66, 67])],
        ],
      }),
    )
    const [ack, ...more] = await probe(lan, 'pc', { send: [{ bytes: request, to: '10.78.0.2', port: 4011 }], bindPort: 4011, listenMs: 1500, expect: 1 })
    t.equal(more.length, 0)
    t.same([ack?.from, ack?.port], ['10.78.0.2', 4011])
    t.match(ack?.packet, { messageType: MessageType.ACK, yiaddr: '0.0.0.0', ciaddr: '0.0.0.0', siaddr: '10.78.0.2', file: 'ipxe.efi' })
    t.same(ack?.packet.options.get(Opt.VENDOR_CLASS), Buffer.from('PXEClient'))
  })

  await t.test('iPXE gets the bootstrap URL; non-PXE clients get nothing from the proxy', async (t) => {
    const ipxe = pxeDiscover('02:00:00:00:78:02', 0, IPXE_OPTIONS)
    const plain = encode(clientPacket({ mac: '02:00:00:00:78:03', options: [[Opt.VENDOR_CLASS, 'MSFT 5.0']] }))
    const replies = await probe(lan, 'pc', { send: [ipxe, plain].map((bytes) => ({ bytes, to: '255.255.255.255', port: 67 })), listenMs: 1500 })
    const proxy = replies.filter((r) => r.from === '10.78.0.2')
    t.same(
      proxy.map((r) => [r.packet.xid, r.packet.file]),
      [[ipxe.readUInt32BE(4), 'http://10.78.0.2:8080/boot.ipxe']],
    )
    // 175 holds only 1 (priority) = 1, then end: no 176 (no-pxedhcp) in proxy mode, there is a proxy.
    t.same(proxy[0]?.packet.options.get(Opt.IPXE_ENCAP), Buffer.from([1, 1, 1, 255]), 'iPXE priority 1 so the proxy boot file beats a site file name; no 175.176')
    t.ok(
      replies.some((r) => r.from === '10.78.0.1' && r.packet.xid === plain.readUInt32BE(4)),
      'the site answered the plain client',
    )
  })

  t.same(await srv.leases(), [], 'proxy mode keeps no leases')
  await srv.stop()
  t.notOk(
    srv.logs.some((l) => l.level >= 50),
    'no error logged',
  )
  t.match(site.output(), /DHCPOFFER\(eth0\) 10\.78\.0\.1\d\d/, 'dnsmasq did its part')
  await site.stop()
})
