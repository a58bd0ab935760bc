/**
 * Seeds 002 (SmartOS) and 001 (SystemRescue) with bootpolicy as the only server, through the
 * smartos and sysresccd plugins, against real iPXE. Site and policies: test/helpers/e2e-plugin-sites.ts,
 * test/fixtures/e2e/smartos-sysresccd/policies.
 *
 * SmartOS: the plugin renders `kernel <build>/platform/i86pc/kernel/amd64/unix -B <list>`,
 * `module <build>/platform/i86pc/amd64/boot_archive`, `boot`. Our `unix` is the payload's Linux
 * bzImage, which has no multiboot header, so iPXE loads it as a bzImage: `module` is iPXE's alias of
 * `initrd`, and the `-B …` list becomes the Linux command line. So this does boot — not SmartOS, but
 * the exact files and arguments the plugin names, through the same three iPXE commands — and the
 * kernel reports the command line iPXE handed it: `-B console=text,root_shadow='$5$…',smartos=true`,
 * quotes and `$` byte for byte. Without `console=ttyS0` the kernel's console is not the serial
 * port, so the boot_archive is the payload initrd plus a second cpio whose /init writes to
 * /dev/ttyS0 itself (Linux unpacks concatenated archives; the later /init wins). What this cannot
 * prove: that a real illumos `unix` accepts the multiboot handoff (iPXE's multiboot path is not
 * exercised — a bzImage is never multiboot).
 *
 * SystemRescue (archiso layout): vmlinuz + sysresccd.img are the payload kernel and initrd; the
 * kernel line is exactly what the plugin renders (archisobasedir, ip=dhcp, archiso_http_srv, checksum,
 * setkmap, BOOTIF, the configured extra args, initrd=), in BIOS and in UEFI (iPXE's EFI build, whose
 * EFI-stub boot needs the `initrd=` the plugin writes). SmartOS stays BIOS-only here: its `unix` is
 * a multiboot kernel and iPXE's EFI build has no multiboot; seed-002-smartos-pfsense.test.ts proves
 * UEFI up to the SmartOS menu.
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { RESCUE_MAC, RESCUE_UEFI_MAC, ROOT_SHADOW as HASH, SMARTOS_BUILDS as BUILDS, SMARTOS_MAC, SMARTOS_NEWEST as NEWEST, startSmartosSysresccdSite } from '../helpers/e2e-plugin-sites.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

t.test('seeds 002/001: SmartOS (BIOS) and SystemRescue (BIOS, UEFI) entries fetch and boot the files they name', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const { server, httpBase } = await startSmartosSysresccdSite(net, payload)
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  const found = server.logLines().find((l) => l.msg === 'smartos builds')
  t.same(found?.builds, [...BUILDS].reverse(), 'the smartos plugin found both builds, newest first')
  t.match(
    server.logLines().find((l) => l.msg === 'SystemRescue found'),
    { layout: 'archiso', checksum: 'verified' },
    'sysresccd found the archiso tree and verified airootfs.sfs',
  )

  await t.test('SmartOS entry: kernel -B …, module boot_archive, boot', async (t) => {
    const before = server.httpRequests().length
    const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac: SMARTOS_MAC, name: 'qemu-smartos', timeoutMs: 180_000 })
    t.equal(boot.report.cmdline, `-B console=text,root_shadow='${HASH}',smartos=true`, 'the kernel got the -B list iPXE rendered, quotes and $ intact')
    const urls = server
      .httpRequests()
      .slice(before)
      .map((r) => `${r.status} ${r.url}`)
    const prefix = `/files/smartos/${NEWEST}/platform/i86pc`
    t.ok(urls.includes(`200 ${prefix}/kernel/amd64/unix`), "iPXE fetched the newest build's unix")
    t.ok(urls.includes(`200 ${prefix}/amd64/boot_archive`), 'and its boot_archive (module)')
    t.notOk(
      urls.some((u) => u.includes(BUILDS[0]!)),
      'nothing of the older build',
    )
    const d = server.decisionsFor(SMARTOS_MAC)
    t.equal(d.length, 1, 'one /boot request')
    t.match(d[0], { decidedBy: 'policy:20-entries.ts', kind: 'smartos.boot', context: { mac: SMARTOS_MAC, plugins: { smartos: { builds: [...BUILDS].reverse() } } } })
    t.comment(`smartos: marker at ${boot.markerMs} ms after QEMU start; fetched ${urls.join(', ')}`)
  })

  for (const { firmware, mac } of [
    { firmware: 'bios', mac: RESCUE_MAC },
    { firmware: 'uefi', mac: RESCUE_UEFI_MAC },
  ] as const) {
    await t.test(`SystemRescue entry (${firmware}): archiso kernel line, sysresccd.img as initrd`, async (t) => {
      const before = server.httpRequests().length
      const boot = await bootToMarkerTolerant({ net, firmware, mac, name: `qemu-sysresccd-${firmware}`, timeoutMs: firmware === 'bios' ? 180_000 : 240_000 })
      // iPXE's EFI build puts the image name first on the kernel line; initrd= names the initrd the
      // EFI stub must load (the plugin always writes it).
      const image = firmware === 'bios' ? '' : 'vmlinuz '
      t.equal(
        boot.report.cmdline,
        `${image}archisobasedir=sysresccd ip=dhcp archiso_http_srv=${httpBase} checksum setkmap=us BOOTIF=01-${mac.replaceAll(':', '-')} console=ttyS0 quiet panic=-1 initrd=sysresccd.img`,
        'the kernel line the plugin renders, word for word',
      )
      const urls = server
        .httpRequests()
        .slice(before)
        .map((r) => `${r.status} ${r.url}`)
      t.ok(urls.includes('200 /files/sysresccd/sysresccd/boot/x86_64/vmlinuz'), 'iPXE fetched vmlinuz')
      t.ok(urls.includes('200 /files/sysresccd/sysresccd/boot/x86_64/sysresccd.img'), 'and sysresccd.img')
      const d = server.decisionsFor(mac)
      t.equal(d.length, 1, 'one /boot request')
      t.match(d[0], { decidedBy: 'policy:20-entries.ts', kind: 'sysresccd.boot', context: { mac, arch: firmware === 'bios' ? 'i386-pcbios' : 'x86_64-efi' } })
      t.comment(`sysresccd ${firmware}: marker at ${boot.markerMs} ms after QEMU start`)
    })
  }

  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
