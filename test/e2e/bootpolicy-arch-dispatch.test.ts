/**
 * Seed 004 with bootpolicy as the only server: the boot file is chosen by DHCP option 93.
 * - SeaBIOS and OVMF with iPXE as the NIC ROM: iPXE asks DHCP itself (option 175 present) and gets
 *   the HTTP bootstrap straight away (arch 0 and 7 alike).
 * - OVMF's own PXE client (no iPXE ROM, option 93 = 7, no 175): gets an iPXE EFI binary by the arch
 *   map, loads it over bootpolicy's TFTP, and that iPXE asks DHCP again and gets the bootstrap (the
 *   loop breaker). The EFI binary is snponly.efi: measured faster than ipxe.efi under OVMF (see
 *   bench/e2e-boot-times.ts and docs/guides/e2e-tests.md).
 * Plain BIOS PXE (undionly.kpxe over TFTP) is not covered: every ROM QEMU has here is iPXE.
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import type { Firmware } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

/** What OVMF's PXE client gets for option 93 = 7; see the header. */
export const EFI_NBP = 'snponly.efi'

const clients: ReadonlyArray<{ firmware: Firmware; mac: string; arch: string; efi: 0 | 1 }> = [
  { firmware: 'bios', mac: '52:54:00:e2:04:01', arch: 'i386-pcbios', efi: 0 },
  { firmware: 'uefi', mac: '52:54:00:e2:04:02', arch: 'x86_64-efi', efi: 1 },
  { firmware: 'uefi-pxe', mac: '52:54:00:e2:04:03', arch: 'x86_64-efi', efi: 1 },
]

t.test('seed 004: each firmware gets the right boot file by option 93 and boots', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({
    net,
    scenario: 'arch-dispatch',
    payload,
    tftpFiles: ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'],
    archMap: { 0: 'undionly.kpxe', 7: EFI_NBP, 9: EFI_NBP },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  for (const { firmware, mac, arch, efi } of clients) {
    await t.test(firmware, async (t) => {
      const boot = await bootToMarkerTolerant({ net, firmware, mac, timeoutMs: 90_000 })
      // iPXE's EFI build puts the image name first on the command line; the BIOS build does not.
      const image = firmware === 'bios' ? '' : 'vmlinuz '
      t.equal(boot.report.cmdline, `${image}initrd=initrd.gz console=ttyS0 quiet panic=-1 arch=${arch} efi=${efi}`)

      const decisions = server.decisionsFor(mac)
      t.equal(decisions.length, 1, 'one /boot request')
      t.match(decisions[0], { decidedBy: 'policy:30-arch.ts', kind: 'boot', context: { mac, arch } })

      const replies = server.dhcpReplies().filter((r) => r.mac === mac)
      const ipxe = replies.filter((r) => r.isIpxe)
      t.ok(ipxe.length >= 2, 'iPXE did DISCOVER/REQUEST')
      t.ok(
        ipxe.every((r) => r.reason === 'ipxe' && r.bootfile === `${server.url}/boot.ipxe`),
        'iPXE got the HTTP bootstrap',
      )
      const pxe = replies.filter((r) => !r.isIpxe)
      if (firmware === 'uefi-pxe') {
        t.ok(pxe.length >= 2, "OVMF's own PXE client asked first")
        t.ok(
          pxe.every((r) => r.clientArchCode === 7 && r.reason === 'arch' && r.bootfile === EFI_NBP),
          `option 93 = 7 → ${EFI_NBP}`,
        )
        t.match(pxe[0]?.vendorClass, /^PXEClient:Arch:00007:/)
        t.ok(replies.indexOf(pxe.at(-1)!) < replies.indexOf(ipxe[0]!), 'PXE first, then the iPXE it loaded')
        const sent = server.tftpTransfers().filter((x) => x.file === EFI_NBP)
        t.ok(sent.length >= 1, `${EFI_NBP} went over bootpolicy's TFTP`)
        t.match(boot.log, /NBP file downloaded successfully/)
      } else {
        t.same(pxe, [], 'no plain-PXE request: the ROM is iPXE')
      }
      t.comment(`${firmware}: marker at ${boot.markerMs} ms after QEMU start; ${JSON.stringify(boot.milestones)}`)
    })
  }

  t.same(
    server
      .tftpTransfers()
      .map((x) => x.file)
      .filter((f) => f !== EFI_NBP),
    [],
    'nothing else went over TFTP',
  )
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
