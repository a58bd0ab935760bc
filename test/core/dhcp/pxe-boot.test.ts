/**
 * Boot-file choice on the wire (full mode): PXE ROMs of each architecture, iPXE (loop breaking),
 * U-Boot vendor classes, UEFI HTTP boot, and the decideBoot hook with its failure modes.
 */
import t from 'tap'
import { resolve } from 'node:path'
import { createLan } from '../../helpers/netns.js'
import { REPO_ROOT, startDhcpServer } from '../../helpers/dhcp-server.js'
import { probe, udhcpc, type ProbeReply } from '../../helpers/dhcp-clients.js'
import { clientPacket, IPXE_OPTIONS, pxeDiscover, u16 } from '../../helpers/dhcp-packets.js'
import { encode } from '../../../core/dhcp/packet-codec.js'
import { Opt } from '../../../core/dhcp/options.js'
import type { DhcpConfig } from '../../../core/dhcp/config-schema.js'

const config: DhcpConfig = {
  mode: 'full',
  serverAddress: '10.88.0.1',
  pool: { start: '10.88.0.100', end: '10.88.0.150' },
  leaseSeconds: 600,
  boot: {
    httpPort: 8080,
    vendorClassRules: [{ match: 'exact', value: 'U-Boot.armv8', bootfile: 'rpi3/boot.conf', nextServer: '10.88.0.108' }],
  },
}

t.test('boot files on the wire', async (t) => {
  const lan = await createLan(t, [{ name: 'srv', address: '10.88.0.1/24' }, { name: 'pc', address: '10.88.0.9/24' }, { name: 'rom' }])
  const srv = await startDhcpServer(lan, 'srv', config, { hookModule: resolve(REPO_ROOT, 'test/fixtures/dhcp/decide-boot-hook.ts') })
  let xid = 0x100
  /** Sends DISCOVERs and returns the OFFER for each, by position. */
  const offers = async (packets: Buffer[]): Promise<Array<ProbeReply | undefined>> => {
    const xids = packets.map((p) => p.readUInt32BE(4))
    const replies = await probe(lan, 'pc', { send: packets.map((bytes) => ({ bytes, to: '255.255.255.255', port: 67 })), listenMs: 1200, expect: packets.length, gapMs: 5 })
    return xids.map((x) => replies.find((r) => r.packet.xid === x))
  }
  const withXid = (bytes: Buffer): Buffer => {
    bytes.writeUInt32BE(++xid, 4)
    return bytes
  }

  await t.test('golden: the whole OFFER to a BIOS PXE ROM', async (t) => {
    const [offer] = await offers([withXid(pxeDiscover('02:00:00:00:88:10', 0))])
    t.same(offer?.packet, {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid,
      secs: 0,
      flags: 0x8000,
      ciaddr: '0.0.0.0',
      yiaddr: '10.88.0.100',
      siaddr: '10.88.0.1',
      giaddr: '0.0.0.0',
      chaddr: Buffer.from('020000008810', 'hex'),
      sname: '',
      file: 'undionly.kpxe',
      messageType: 2,
      options: new Map<number, Buffer>([
        [53, Buffer.from([2])],
        [54, Buffer.from([10, 88, 0, 1])],
        [51, Buffer.from([0, 0, 2, 88])],
        [58, Buffer.from([0, 0, 1, 44])],
        [59, Buffer.from([0, 0, 2, 13])],
        [1, Buffer.from([255, 255, 255, 0])],
        [28, Buffer.from([10, 88, 0, 255])],
        [67, Buffer.from('undionly.kpxe')],
        [66, Buffer.from('10.88.0.1')],
      ]),
    })
  })

  await t.test('each architecture gets its iPXE build', async (t) => {
    const arches: Array<[number, string]> = [
      [0, 'undionly.kpxe'],
      [6, 'ipxe-i386.efi'],
      [7, 'ipxe.efi'],
      [9, 'ipxe.efi'],
      [10, 'snp-arm32.efi'],
      [11, 'snp-arm64.efi'],
    ]
    const got = await offers(arches.map(([arch], i) => withXid(pxeDiscover(`02:00:00:00:88:2${i}`, arch))))
    t.same(
      got.map((o) => [o?.packet.file, o?.packet.siaddr]),
      arches.map(([, file]) => [file, '10.88.0.1']),
    )
    t.notOk(
      got.some((o) => o?.packet.options.has(Opt.IPXE_ENCAP)),
      'no 175 for PXE ROMs',
    )
  })

  await t.test('iPXE gets the bootstrap URL and 175.176 = 1 (loop breaking)', async (t) => {
    const rfc3004 = [[Opt.USER_CLASS, Buffer.from([4, ...Buffer.from('iPXE')])]] as const
    const got = await offers([
      withXid(pxeDiscover('02:00:00:00:88:30', 0, IPXE_OPTIONS)),
      withXid(pxeDiscover('02:00:00:00:88:31', 7, IPXE_OPTIONS)),
      withXid(pxeDiscover('02:00:00:00:88:32', 7, rfc3004)),
      withXid(pxeDiscover('02:00:00:00:88:33', 0, [[Opt.USER_CLASS, 'iPXE']])),
    ])
    for (const o of got) {
      t.equal(o?.packet.file, 'http://10.88.0.1:8080/boot.ipxe')
      t.same(o?.packet.options.get(Opt.IPXE_ENCAP), Buffer.from([176, 1, 1, 255]))
    }
  })

  await t.test('U-Boot vendor class and UEFI HTTP boot', async (t) => {
    const [uboot, http] = await offers([
      withXid(
        encode(
          clientPacket({
            mac: '02:00:00:00:88:40',
            options: [
              [Opt.VENDOR_CLASS, 'U-Boot.armv8'],
              [Opt.CLIENT_ARCH, u16(22)],
            ],
          }),
        ),
      ),
      withXid(
        encode(
          clientPacket({
            mac: '02:00:00:00:88:41',
            options: [
              [Opt.VENDOR_CLASS, 'HTTPClient:Arch:00016:UNDI:003001'],
              [Opt.CLIENT_ARCH, u16(16)],
            ],
          }),
        ),
      ),
    ])
    t.same([uboot?.packet.file, uboot?.packet.siaddr], ['rpi3/boot.conf', '10.88.0.108'])
    t.same([http?.packet.file, http?.packet.options.get(Opt.VENDOR_CLASS)], ['http://10.88.0.1:8080/files/ipxe.efi', Buffer.from('HTTPClient')])
  })

  await t.test('decideBoot overrides; its errors and timeouts fall back to defaults', async (t) => {
    const got = await offers([withXid(pxeDiscover('02:00:00:00:88:01', 7)), withXid(pxeDiscover('02:00:00:00:88:02', 7)), withXid(pxeDiscover('02:00:00:00:88:03', 0))])
    t.same([got[0]?.packet.file, got[0]?.packet.siaddr], ['efi-x64/x86_64-efi-00112233-4455-6677-8899-aabbccddeeff.efi', '10.88.0.14'])
    t.same(got[0]?.packet.options.get(150), Buffer.from('10.88.0.14'), 'extra option')
    t.equal(got[1]?.packet.file, 'ipxe.efi', 'hook threw: default')
    t.equal(got[2]?.packet.file, 'undionly.kpxe', 'hook hung: default after hookTimeoutMs')
    const failures = srv.logs.filter((l) => l.msg === 'dhcp decideBoot failed, using defaults').map((l) => (l.err as { message: string }).message)
    t.match(failures, [/inventory service is down/, /no answer within 500 ms/])
  })

  await t.test('busybox udhcpc posing as a UEFI PXE ROM', async (t) => {
    const got = await udhcpc(lan, 'rom', ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '93:0007', '-O', '66', '-O', '67'])
    t.same([got.boot_file, got.siaddr], ['ipxe.efi', '10.88.0.1'])
  })

  await srv.stop()
  t.equal(srv.process.exitCode, 0, 'service closed cleanly')
})
