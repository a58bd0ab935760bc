/**
 * Baseline: dnsmasq (full DHCP + TFTP) and a static HTTP server boot the payload through real iPXE,
 * under SeaBIOS (iPXE ROM), OVMF (iPXE ROM) and OVMF's own PXE (ipxe.efi over TFTP first).
 * Its times to marker are the "dnsmasq" side of the bootpolicy-vs-dnsmasq figures.
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { type BaselineBootResult, runBaselineBoot } from '../helpers/e2e-baseline.js'
import { FIRMWARES } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const mac = '52:54:00:e2:e0:01'
const smbios = {
  serial: 'BP-E2E-0001',
  uuid: '4c4c4544-0042-3510-8052-b4c04f4d3232',
  manufacturer: 'Bootpolicy Labs',
  product: 'E2E Box, rev 2',
}

t.test('baseline dnsmasq + static HTTP boots the payload through real iPXE', async (t) => {
  const started = performance.now()
  const payload = await buildBootPayload()
  t.comment(`payload ${payload.kernelVersion}: kernel ${payload.sizes.kernel} B, initrd ${payload.sizes.initrd} B (${payload.dir})`)
  const results: BaselineBootResult[] = []

  for (const firmware of FIRMWARES) {
    await t.test(firmware, async (t) => {
      const r = await runBaselineBoot({ firmware, payload, mac, smbios })
      results.push(r)
      // iPXE's EFI build puts the image name first on the kernel command line; the BIOS build does not.
      const imageName = firmware === 'bios' ? '' : 'vmlinuz '
      t.equal(r.report.cmdline, `${imageName}initrd=initrd.gz console=ttyS0 quiet panic=-1 bp.e2e=baseline`, 'full /proc/cmdline')
      t.same(
        r.report.dmi,
        {
          product_serial: smbios.serial,
          product_uuid: smbios.uuid,
          sys_vendor: smbios.manufacturer,
          product_name: smbios.product,
        },
        'SMBIOS fields reach the guest',
      )
      t.same(
        r.httpRequests.map((q) => [q.method, q.url, q.status, q.ua]),
        [
          ['GET', '/boot.ipxe', 200, 'iPXE/1.0.0+git-20190125.36a4c85-5.1'],
          ['GET', '/vmlinuz', 200, 'iPXE/1.0.0+git-20190125.36a4c85-5.1'],
          ['GET', '/initrd.gz', 200, 'iPXE/1.0.0+git-20190125.36a4c85-5.1'],
        ],
        'iPXE fetched the script, the kernel and the initrd, nothing else',
      )
      if (firmware === 'uefi-pxe') {
        t.match(r.dnsmasqLog, /vendor class: PXEClient:Arch:00007/, "OVMF's own PXE client asked first")
        t.match(r.dnsmasqLog, /sent \S+\/ipxe\.efi to/, 'and loaded ipxe.efi over TFTP')
      }
      t.ok(r.exitMs !== undefined, 'QEMU exits once the guest powers off')
      t.comment(`${firmware}: marker at ${r.markerMs} ms after QEMU start; milestones ${JSON.stringify(r.milestones)}`)
    })
  }

  t.comment('time to marker (ms after QEMU start) | setup | total per boot')
  for (const r of results) t.comment(`${r.firmware.padEnd(8)} ${String(r.markerMs).padStart(6)} | ${r.setupMs} | ${r.totalMs}`)
  t.comment(`whole test: ${Math.round(performance.now() - started)} ms`)
})
