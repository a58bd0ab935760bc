/**
 * Issue 15 scenario 1, seed 001's topology: the site's router hands out addresses only (dnsmasq in
 * its own namespace, no boot options); bootpolicy runs beside it in proxy mode (UDP 67 + 4011)
 * with TFTP and HTTP. Its config and policy are the ones in docs/guides/migrate-sysresccd-proxydhcp.md,
 * extracted by writeGuideFixture (test/helpers/e2e-seed-sites.ts): the guide's text is this test's fixture.
 *
 * Three clients: SeaBIOS + iPXE ROM, OVMF + iPXE ROM, and OVMF's own PXE client (no iPXE ROM:
 * proxy offer → TFTP ipxe.efi by the default arch map → that iPXE asks again → /boot.ipxe). Each
 * reaches the SystemRescueCd menu, the test presses its hot key `r`, and the legacy tree boots
 * `rescue64` (iPXE's `cpuid` test) with the plugin's kernel line. The sysresccd tree is the payload:
 * rescue32/rescue64 are its kernel, initram.igz its initrd plus a serial-reporting /init (the
 * plugin writes no console=ttyS0).
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { serverTail } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { tail } from '../helpers/e2e-process.js'
import { bootThroughMenu, startSeed001Site } from '../helpers/e2e-seed-sites.js'
import type { Firmware } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const QUICK = process.env.BOOTPOLICY_E2E_QUICK === '1'
const clients: ReadonlyArray<{ firmware: Firmware; mac: string }> = [
  { firmware: 'bios' as Firmware, mac: '52:54:00:e2:01:01' },
  { firmware: 'uefi' as Firmware, mac: '52:54:00:e2:01:02' },
  { firmware: 'uefi-pxe' as Firmware, mac: '52:54:00:e2:01:03' },
].filter((c) => !QUICK || c.firmware === 'bios')

t.test('seed 001: router DHCP + bootpolicy proxyDHCP/TFTP/HTTP → SystemRescueCd menu → rescue64', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const { server, site, close } = await startSeed001Site(net, payload)
  t.teardown(close)
  t.teardown(() => {
    if (!t.passing()) t.comment(`${serverTail(server)}\nsite dhcp:\n${tail(site.log(), 2000)}`)
  })
  t.match(server.config, { dhcp: { mode: 'proxy', serverAddress: net.serverIp }, plugins: [{ name: 'sysresccd', options: { keymap: 'de' } }] }, "the guide's config is what runs")
  t.match(
    server.logLines().find((l) => l.msg === 'SystemRescue found'),
    { layout: 'legacy', checksum: 'verified' },
    'the plugin verified sysrcd.dat against sysrcd.md5',
  )

  const httpBase = `http://${net.serverIp}:8080/files/sysresccd/`
  // All machines at once on the one site: measured 67 s wall against 129 s one after another
  // (bench/e2e-parallel-probe.ts); each boot gets slower, the file gets faster.
  const boots = await Promise.allSettled(clients.map(({ firmware, mac }) => bootThroughMenu({ net, firmware, mac, menu: /Boot from the local disk/, key: 'r' })))
  for (const [i, { firmware, mac }] of clients.entries()) {
    await t.test(firmware, async (t) => {
      const settled = boots[i]!
      if (settled.status === 'rejected') throw settled.reason
      const boot = settled.value
      t.match(boot.log, /SystemRescueCd[\s\S]*iPXE shell/, 'the whole menu was shown')
      // iPXE's EFI build puts the image name first on the command line; the BIOS build does not.
      const image = firmware === 'bios' ? '' : 'rescue64 '
      t.equal(boot.report?.cmdline, `${image}setkmap=de dodhcp netboot=${httpBase}sysrcd.dat initrd=initram.igz`, "the plugin's kernel line, German keymap")

      const decisions = server.decisionsFor(mac)
      t.equal(decisions.length, 1, 'one /boot request: the menu is inline')
      t.match(decisions[0], { decidedBy: 'policy:20-rescue-menu.ts', kind: 'menu', context: { mac } })
      const urls = server
        .httpRequests()
        .filter((r) => r.url.startsWith('/files/sysresccd/'))
        .map((r) => `${r.status} ${r.url}`)
      t.ok(urls.includes('200 /files/sysresccd/isolinux/rescue64'), 'iPXE fetched rescue64 (cpuid: long mode)')

      const proxy = server.logLines().filter((l) => l.msg === 'dhcp proxy reply' && (l.client as { mac: string }).mac === mac)
      const ipxe = proxy.filter((l) => (l.client as { isIpxe: boolean }).isIpxe)
      t.ok(ipxe.length >= 1 && ipxe.every((l) => l.bootfile === `${server.url}/boot.ipxe` && l.reason === 'ipxe'), 'proxy offers to iPXE carry /boot.ipxe')
      const pxe = proxy.filter((l) => !(l.client as { isIpxe: boolean }).isIpxe)
      if (firmware === 'uefi-pxe') {
        t.ok(pxe.length >= 1 && pxe.every((l) => l.bootfile === 'ipxe.efi' && l.reason === 'arch'), "OVMF's PXE got ipxe.efi by the arch map")
        t.ok(
          server.tftpTransfers().some((x) => x.file === 'ipxe.efi'),
          "ipxe.efi went over bootpolicy's TFTP",
        )
      } else {
        t.same(pxe, [], 'no plain-PXE request: the ROM is iPXE')
      }
      const leases = site
        .log()
        .split('\n')
        .filter((l) => l.includes(mac) && /DHCPACK/.test(l))
      t.ok(leases.length >= 1, 'the router leased the address')
      // dnsmasq logs `next server: <itself>` (siaddr) for every reply; what matters is that no
      // file name or TFTP server option went out.
      t.notMatch(site.log(), /sent size:\s*\d+ option:\s*(66|67) /, 'the router sent no boot file or TFTP server')
      t.comment(`${firmware}: menu at ${boot.menuMs} ms, marker at ${boot.markerMs} ms after QEMU start`)
    })
  }
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
