/**
 * Issue 15: UEFI HTTP Boot beside a site DHCP server. The site's router (dnsmasq, addresses only,
 * e2e-site-dhcp.ts) leases the address; bootpolicy in proxy mode answers the firmware's DISCOVER
 * with a proxy OFFER (yiaddr 0.0.0.0, option 60 `HTTPClient`, the URL as the boot file). OVMF
 * (edk2 2022.11, PXE options off through fw_cfg) must take the address from the router and the URL
 * from the proxy offer, fetch the binary from bootpolicy over HTTP, and the iPXE it becomes asks
 * again (DHCP from the router, /boot.ipxe from bootpolicy's proxy offer) and chains /boot.
 *
 * The URL is the default one (no httpBootUrlBase): http://<server>:8080/files/snponly.efi.
 * A capture (tcpdump in the namespace) records what crossed the segment, for the measurement.
 */
import { join } from 'node:path'
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { tail } from '../helpers/e2e-process.js'
import { requireCommand } from '../helpers/e2e-require.js'
import { startSiteDhcp } from '../helpers/e2e-site-dhcp.js'
import { httpBootOptionLines, OVMF_NO_PXE } from '../helpers/qemu-ovmf.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const NBP = 'snponly.efi'

t.test('UEFI HTTP boot through proxy mode: the router leases, bootpolicy hands OVMF the URL in a proxy offer', async (t) => {
  const tcpdump = requireCommand('tcpdump', 'tcpdump')
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const site = await startSiteDhcp(net)
  t.teardown(() => site.close())
  const mac = '52:54:00:e2:06:11'
  const server = await startBootpolicy({
    net,
    scenario: 'arch-dispatch',
    payload,
    tftpFiles: [],
    extraFiles: { [NBP]: `/usr/lib/ipxe/${NBP}` },
    config: { dhcp: { mode: 'proxy', interface: net.bridge, serverAddress: net.serverIp, boot: { httpPort: 8080, archMap: { 16: NBP } } } },
  })
  t.teardown(async () => {
    if (!t.passing()) t.comment(`${serverTail(server)}\nsite dhcp:\n${tail(site.log(), 3000)}`)
    await server.stop()
  })
  const pcap = join(net.dir, 'dhcp.pcap')
  const capture = net.spawn('tcpdump', tcpdump, ['-i', net.bridge, '-n', '-U', '-s', '0', '-w', pcap, 'udp port 67 or udp port 68 or udp port 4011'])
  t.teardown(() => capture.stop())
  await new Promise((r) => setTimeout(r, 500))

  const boot = await bootToMarkerTolerant({ net, firmware: 'uefi-pxe', mac, name: 'qemu-httpboot-proxy', timeoutMs: 300_000, extraArgs: OVMF_NO_PXE })
  await capture.stop()
  const decoded = await net.exec(tcpdump, ['-r', pcap, '-n', '-v'])
  t.comment(
    decoded
      .split('\n')
      .filter((l) => /Your-IP|File|Vendor-Class|Server-ID|DHCP-Message|BF \(67\)|>/.test(l))
      .join('\n'),
  )
  // What crossed the segment for the firmware's DHCP (its xid): tcpdump -v starts each packet with
  // an unindented timestamp line.
  const packets = decoded.split(/\n(?=\S)/).filter((p) => p.includes('BOOTP/DHCP'))
  const discover = packets.find((p) => p.includes('Discover') && p.includes('HTTPClient:Arch:00016'))
  t.ok(discover, "the capture has the firmware's HTTPClient DISCOVER")
  const xid = /xid (0x[0-9a-f]+)/.exec(discover ?? '')?.[1] ?? 'none'
  const ofXid = packets.filter((p) => p.includes(`xid ${xid},`))
  const proxyOffer = ofXid.find((p) => p.includes(`${net.serverIp}.67 >`) && p.includes('Offer'))
  t.ok(
    proxyOffer !== undefined && !proxyOffer.includes('Your-IP') && proxyOffer.includes('"HTTPClient"') && proxyOffer.includes(`${server.url}/files/${NBP}`),
    "bootpolicy's answer is a proxy offer: no address, HTTPClient, the URL",
  )
  const routerOffer = ofXid.find((p) => p.includes(`${site.address}.67 >`) && p.includes('Offer'))
  t.ok(routerOffer?.includes('Your-IP') && !routerOffer.includes('http://'), "the router's offer: an address, no boot file")
  const request = ofXid.find((p) => p.includes('.68 > ') && p.includes('length 1: Request'))
  t.ok(request?.includes(`Server-ID (54), length 4: ${site.address}`), "OVMF then requested the router's address (and nothing from bootpolicy)")

  const option = httpBootOptionLines(boot.log, mac)
  t.ok(option.chosen, 'the boot manager loaded and started the HTTPv4 option', { bdsLines: option.bdsLines })
  const proxy = server.logLines().filter((l) => l.msg === 'dhcp proxy reply' && (l.client as { mac: string }).mac === mac)
  const firmware = proxy.filter((l) => !(l.client as { isIpxe: boolean }).isIpxe)
  t.ok(firmware.length >= 1 && firmware.every((l) => l.bootfile === `${server.url}/files/${NBP}` && l.reason === 'http-boot'), 'the proxy offer to the firmware carried the default URL')
  const fetched = server
    .logLines()
    .filter((l) => l.msg === 'request completed' && (l.req as { userAgent?: string }).userAgent?.startsWith('UefiHttpBoot/'))
    .map((l) => `${(l.req as { method: string }).method} ${(l.req as { url: string }).url} ${String(l.statusCode)}`)
  t.same(fetched, [`HEAD /files/${NBP} 200`, `GET /files/${NBP} 200`], 'OVMF fetched the URL from bootpolicy: HEAD, then GET')
  const ipxe = proxy.filter((l) => (l.client as { isIpxe: boolean }).isIpxe)
  t.ok(ipxe.length >= 1 && ipxe.every((l) => l.bootfile === `${server.url}/boot.ipxe`), 'the iPXE it loaded got /boot.ipxe')
  t.match(boot.report.cmdline, /^vmlinuz initrd=initrd\.gz /, 'and booted the payload')
  t.equal(server.decisionsFor(mac).length, 1, 'one /boot request')
  const leases = site
    .log()
    .split('\n')
    .filter((l) => l.includes(mac) && /DHCPACK/.test(l))
  t.ok(leases.length >= 2, 'the router leased the address to the firmware and to iPXE')
  t.same(server.problems(), [], 'no warnings or errors in the server log')
  t.comment(`http boot via proxy: marker at ${boot.markerMs} ms after QEMU start`)
})
