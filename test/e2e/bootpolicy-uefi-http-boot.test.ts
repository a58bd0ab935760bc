/**
 * Issue 15 scenario 6: UEFI HTTP Boot, the firmware's own HTTP client — no TFTP anywhere.
 * OVMF (Debian 12, edk2 2022.11) creates "UEFI HTTPv4 (MAC:…)" boot options next to its PXE ones;
 * the test turns its PXEv4/PXEv6 options off through fw_cfg (`opt/org.tianocore/IPv4PXESupport`,
 * `IPv6PXESupport` = n) so the boot manager goes straight to HTTPv4. Its DHCP DISCOVER carries
 * option 60 `HTTPClient:Arch:00016:UNDI:003000` and option 93 = 16; bootpolicy's full-mode DHCP
 * answers with option 60 `HTTPClient` and the URL of snponly.efi as the boot file (OVMF ignores an
 * offer without that option 60). OVMF sends HEAD then GET (User-Agent `UefiHttpBoot/1.0`), starts
 * the binary, and the iPXE it becomes asks DHCP as iPXE and chains bootpolicy's /boot.ipxe.
 *
 * HTTPS: OVMF trusts the CAs in fw_cfg `etc/edk2/https/cacerts` (an EFI_SIGNATURE_LIST,
 * test/helpers/edk2-cacerts.ts). The certificate is `bootpolicy cert`'s (createSelfSignedCert).
 * iPXE 2019 cannot trust it (PLATFORM-NOTES: its trust list is fixed at build time), so the HTTPS
 * instance hands iPXE the bootstrap of a second, plain-HTTP instance (dhcp off): firmware over
 * HTTPS, iPXE over HTTP. A machine without the CA in fw_cfg must fail its HTTPv4 option and fetch
 * nothing: OVMF really checks the certificate.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createSelfSignedCert } from '../../core/cli/cert-command.js'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { edk2CaCerts } from '../helpers/edk2-cacerts.js'
import { bootToMarkerTolerant, type BootpolicyServer, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { httpBootOptionLines, OVMF_NO_PXE, ovmfCaCertsArgs } from '../helpers/qemu-ovmf.js'
import { startQemu } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const NBP = 'snponly.efi'
const CMDLINE = 'vmlinuz initrd=initrd.gz console=ttyS0 quiet panic=-1 arch=x86_64-efi efi=1'

function firmwareRequests(server: BootpolicyServer): string[] {
  return server
    .logLines()
    .filter((l) => l.msg === 'request completed' && (l.req as { userAgent?: string }).userAgent?.startsWith('UefiHttpBoot/'))
    .map((l) => `${(l.req as { method: string }).method} ${(l.req as { url: string }).url} ${String(l.statusCode)}`)
}

t.test('UEFI HTTP boot: OVMF fetches iPXE by URL from bootpolicy DHCP, then the usual chain', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const mac = '52:54:00:e2:06:01'
  const server = await startBootpolicy({
    net,
    scenario: 'arch-dispatch',
    payload,
    tftpFiles: [],
    extraFiles: { [NBP]: `/usr/lib/ipxe/${NBP}` },
    archMap: { 16: NBP },
    config: { dhcp: { boot: { httpPort: 8080, ipxeNoPxeDhcp: true, archMap: { 16: NBP }, httpBootUrlBase: `http://${net.serverIp}:8080/files/` } } },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  const boot = await bootToMarkerTolerant({ net, firmware: 'uefi-pxe', mac, name: 'qemu-httpboot', timeoutMs: 240_000, extraArgs: OVMF_NO_PXE })
  t.equal(boot.report.cmdline, CMDLINE)
  const option = httpBootOptionLines(boot.log, mac)
  t.ok(option.chosen, 'the boot manager loaded and started the HTTPv4 option', { bdsLines: option.bdsLines })
  t.notMatch(boot.log, /PXEv4/, 'no PXE option was tried')

  const replies = server.dhcpReplies().filter((r) => r.mac === mac)
  const firmware = replies.filter((r) => !r.isIpxe)
  t.ok(firmware.length >= 2, 'the firmware did DISCOVER/REQUEST')
  t.ok(
    firmware.every((r) => r.clientArchCode === 16 && /^HTTPClient:Arch:00016:/.test(r.vendorClass ?? '') && r.reason === 'http-boot' && r.bootfile === `${server.url}/files/${NBP}`),
    'HTTPClient, arch 16 → the URL of snponly.efi',
  )
  const ipxe = replies.filter((r) => r.isIpxe)
  t.ok(ipxe.length >= 2 && ipxe.every((r) => r.bootfile === `${server.url}/boot.ipxe`), 'the iPXE it loaded got /boot.ipxe (not under httpBootUrlBase)')
  t.same(firmwareRequests(server), [`HEAD /files/${NBP} 200`, `GET /files/${NBP} 200`], 'OVMF: HEAD, then GET of the binary')
  const decisions = server.decisionsFor(mac)
  t.equal(decisions.length, 1, 'one /boot request')
  t.match(decisions[0], { decidedBy: 'policy:30-arch.ts', kind: 'boot', context: { mac, arch: 'x86_64-efi' } })
  t.same(server.tftpTransfers(), [], 'no TFTP')
  t.same(server.problems(), [], 'no warnings or errors in the server log')
  t.comment(`http boot: marker at ${boot.markerMs} ms after QEMU start`)
})

t.test("UEFI HTTPS boot: OVMF trusts bootpolicy cert's certificate given through fw_cfg", async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const mac = '52:54:00:e2:06:02'
  const cert = await createSelfSignedCert({ name: net.serverIp, outDir: join(net.dir, 'tls') })
  const cacerts = join(net.dir, 'tls', 'cacerts.bin')
  writeFileSync(cacerts, edk2CaCerts([readFileSync(cert.certFile)]))

  const plain = await startBootpolicy({ net, name: 'bootpolicy-plain', scenario: 'arch-dispatch', payload, tftpFiles: [], config: { dhcp: { mode: 'off' } } })
  const tls = await startBootpolicy({
    net,
    name: 'bootpolicy-tls',
    scenario: 'arch-dispatch',
    payload,
    tftpFiles: [],
    extraFiles: { [NBP]: `/usr/lib/ipxe/${NBP}` },
    config: {
      http: { host: net.serverIp, port: 8443, tls: { cert: cert.certFile, key: cert.keyFile } },
      dhcp: {
        boot: { httpPort: 8443, ipxeNoPxeDhcp: true, archMap: { 16: NBP }, httpBootUrlBase: `https://${net.serverIp}:8443/files/`, ipxeBootstrapUrl: `${plain.url}/boot.ipxe` },
      },
    },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(`${serverTail(tls)}\n${serverTail(plain)}`)
  })
  // First without the CA: OVMF must refuse the certificate and fetch nothing.
  const untrusted = await startQemu({ net, firmware: 'uefi-pxe', mac: '52:54:00:e2:06:03', name: 'qemu-https-untrusted', extraArgs: OVMF_NO_PXE })
  try {
    const failed = await untrusted.waitFor(/BdsDxe: failed to load Boot\d+ "UEFI HTTPv4[^\n]*/, 240_000)
    t.comment(`untrusted: ${failed.match[0]} at ${Math.round(failed.atMs)} ms`)
  } finally {
    await untrusted.stop()
  }
  t.notMatch(untrusted.log(), /iPXE initialising devices/, 'without the CA no iPXE was started')
  t.same(firmwareRequests(tls), [], 'and the TLS server served the firmware nothing')

  const boot = await bootToMarkerTolerant({
    net,
    firmware: 'uefi-pxe',
    mac,
    name: 'qemu-httpsboot',
    timeoutMs: 240_000,
    extraArgs: [...OVMF_NO_PXE, ...ovmfCaCertsArgs(cacerts)],
  })
  t.equal(boot.report.cmdline, CMDLINE)
  t.same(firmwareRequests(tls), [`HEAD /files/${NBP} 200`, `GET /files/${NBP} 200`], 'OVMF fetched the binary over HTTPS')
  const firmware = tls.dhcpReplies().filter((r) => r.mac === mac && !r.isIpxe)
  t.ok(firmware.length >= 2 && firmware.every((r) => r.bootfile === `https://${net.serverIp}:8443/files/${NBP}`), 'DHCP handed out the https URL')
  t.equal(plain.decisionsFor(mac).length, 1, 'iPXE then chained the plain instance')
  t.same([...tls.problems(), ...plain.problems()], [], 'no warnings or errors in either log')
  t.comment(`https boot: marker at ${boot.markerMs} ms after QEMU start`)
})
