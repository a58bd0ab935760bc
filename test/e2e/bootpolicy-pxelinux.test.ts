/**
 * Seeds 003/004 with bootpolicy alone: the policy chains lpxelinux.0 (Debian's pxelinux package)
 * over HTTP; lpxelinux asks for its configuration under the names pxelinux tries, the pxelinux-cfg
 * plugin answers one of them with a file generated for this machine (no pxelinux.cfg/ on disk), and
 * that file's KERNEL/INITRD/APPEND boot the payload. BIOS only: lpxelinux.0 is a BIOS program.
 *
 * Found here: chained by iPXE, lpxelinux resolves relative names against the DHCP boot file name
 * (iPXE's cached DHCP packet holds http://<server>:8080/boot.ipxe), not against the URL it was
 * loaded from — without the plugin's `pathPrefix` it asks for /ldlinux.c32, //boot/isolinux/…,
 * //syslinux/… and stops at "Failed to load ldlinux.c32". So the config sets `pathPrefix` to the
 * absolute /files/ URL (DHCP option 210 via `set 210:string`).
 * Also seen: lpxelinux under iPXE never asks for pxelinux.cfg/<uuid> even when SMBIOS has a UUID
 * (iPXE does send option 97 in its DHCP requests; why lpxelinux skips it was not investigated) —
 * 01-<mac> is the first name it asks for.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { requireFile } from '../helpers/e2e-require.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { BOOT_FAILURES } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const MAC = '52:54:00:e2:05:a1'
/** pxelinux's own dead ends (it would otherwise wait for a key or a reset). */
const PXELINUX_FAILURES = new RegExp(`${BOOT_FAILURES.source}|Failed to load \\S+|Boot failed: press a key|Could not find kernel image`)
const APPEND = 'console=ttyS0 quiet panic=-1 host=pxea1 via=pxelinux'
const UUID = '12345678-9abc-def0-1122-334455667788'

t.test('seeds 003/004: chain lpxelinux.0, which reads its generated config and boots the payload (BIOS)', async (t) => {
  const lpxelinux = requireFile('/usr/lib/PXELINUX/lpxelinux.0', 'pxelinux')
  const ldlinux = requireFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', 'syslinux-common')
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({
    net,
    scenario: 'pxelinux-chain',
    payload,
    tftpFiles: [],
    extraFiles: { 'lpxelinux.0': lpxelinux, 'ldlinux.c32': ldlinux },
    config: { plugins: [{ name: 'pxelinux-cfg', options: { lpxelinuxUrl: '/files/lpxelinux.0', pathPrefix: `http://${net.serverIp}:8080/files/` } }] },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac: MAC, smbios: { uuid: UUID }, timeoutMs: 180_000, failOn: PXELINUX_FAILURES })
  t.comment(`marker at ${boot.markerMs} ms after QEMU start`)
  // pxelinux puts BOOT_IMAGE= first and turns INITRD into initrd= at the end; the rest is APPEND.
  t.equal(boot.report.cmdline, `BOOT_IMAGE=vmlinuz ${APPEND} initrd=initrd.gz`, 'the kernel got the generated APPEND line')
  t.match(boot.log, /PXELINUX 6\.\d+ lwIP/, 'it was lpxelinux that loaded the kernel')

  const requests = server.httpRequests().map((r) => `${r.status} ${r.url}`)
  const mac01 = `01-${MAC.replaceAll(':', '-')}`
  t.same(
    requests.filter((r) => !r.startsWith('200 /boot?')),
    ['200 /boot.ipxe', '200 /files/lpxelinux.0', '200 /files/ldlinux.c32', `200 /files/pxelinux.cfg/${mac01}`, '200 /files/vmlinuz', '200 /files/initrd.gz'],
    'lpxelinux (pathPrefix /files/) asked for ldlinux.c32, then its config: 01-<mac> answered at the first try',
  )
  t.notOk(
    requests.some((r) => r.includes(`pxelinux.cfg/${UUID}`) || r.includes('pxelinux.cfg/78563412')),
    'no UUID lookup: lpxelinux under iPXE starts with 01-<mac>',
  )
  t.equal(requests.filter((r) => r.startsWith('200 /boot?')).length, 1, 'one /boot request')

  const d = server.decisionsFor(MAC)
  t.equal(d.length, 1)
  t.match(d[0], { decidedBy: 'policy:30-pxelinux.ts', kind: 'pxelinux-cfg.chain', context: { mac: MAC, uuid: UUID } })
  t.same(
    d[0]!.plugins.map((p) => [p.plugin, p.hook]),
    [['pxelinux-cfg', 'prepare']],
    'the prepare hook stored the file',
  )

  // The file is virtual and only for the client that asked /boot.
  t.notOk(existsSync(join(net.dir, 'bootpolicy', 'files', 'pxelinux.cfg')), 'no pxelinux.cfg/ on disk')
  const other = await net.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${server.url}/files/pxelinux.cfg/${mac01}`])
  t.equal(other.trim(), '404', "another address (the server itself) does not get this machine's file")
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
