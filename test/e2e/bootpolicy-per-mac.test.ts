/**
 * Seed 003 with bootpolicy as the only server (its own DHCP, TFTP and HTTP): two known MACs boot
 * the payload with different kernel arguments, an unknown MAC gets `exit` and the firmware moves
 * on to its next boot device. Policies: test/fixtures/e2e/per-mac/policies.
 *
 * QEMU's NIC ROM is already iPXE, so (the seed's own tip) the first DHCP answer is the HTTP
 * bootstrap and nothing is fetched over TFTP.
 */
import t from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { startQemu } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const machines = [
  { mac: '52:54:00:e2:03:a1', who: 'alpha' },
  { mac: '52:54:00:e2:03:b2', who: 'beta' },
]
const unknownMac = '52:54:00:e2:03:ff'
const exitMessage = 'bootpolicy: unknown machine, trying the next boot device'

t.test('seed 003: per-MAC outcomes from bootpolicy alone (BIOS, iPXE ROM)', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'per-mac', payload, tftpFiles: ['undionly.kpxe'] })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  for (const { mac, who } of machines) {
    await t.test(`${mac} boots as ${who}`, async (t) => {
      const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac, name: `qemu-${who}`, timeoutMs: 180_000 })
      t.equal(boot.report.cmdline, `initrd=initrd.gz console=ttyS0 quiet panic=-1 who=${who}`, "the kernel got this machine's arguments")
      const decisions = server.decisionsFor(mac)
      t.equal(decisions.length, 1, 'one /boot request')
      const d = decisions[0]!
      t.match(d, { decidedBy: 'policy:10-per-mac.ts', kind: 'boot', cached: false, context: { mac, arch: 'i386-pcbios', platform: 'pcbios' } })
      t.same(
        d.policies.map((p) => [p.policy, p.outcome]),
        [['10-per-mac.ts', 'decided']],
        'the first policy decided; the catch-all never ran',
      )
      t.comment(`${who}: marker at ${boot.markerMs} ms after QEMU start`)
    })
  }

  await t.test(`unknown ${unknownMac} exits to the next boot device`, async (t) => {
    // -boot order=n,reboot-timeout=0 and -no-reboot: after iPXE exits, SeaBIOS finds nothing else
    // to boot, "reboots" at once, and QEMU exits instead.
    const vm = await startQemu({ net, firmware: 'bios', mac: unknownMac, name: 'qemu-unknown' })
    try {
      await vm.waitFor(/No bootable device/, 30_000, { failOn: new RegExp(PAYLOAD_MARKER) })
      const exit = await vm.waitForExit(10_000)
      t.equal(exit.code, 0, 'QEMU exited by itself (guest reset with -no-reboot)')
      const log = vm.log()
      const said = log.indexOf(exitMessage)
      t.ok(said >= 0, 'iPXE printed the exit message of the policy')
      t.ok(log.indexOf('No bootable device', said) > said, 'then the firmware moved on to its next boot device')
      t.notMatch(log, PAYLOAD_MARKER, 'no kernel ran')
    } finally {
      await vm.stop()
    }
    const decisions = server.decisionsFor(unknownMac)
    t.equal(decisions.length, 1)
    t.match(decisions[0], { decidedBy: 'policy:90-unknown.ts', kind: 'exit', context: { mac: unknownMac } })
    t.same(
      decisions[0]!.policies.map((p) => [p.policy, p.outcome]),
      [
        ['10-per-mac.ts', 'passed'],
        ['90-unknown.ts', 'decided'],
      ],
    )
  })

  t.same(server.tftpTransfers(), [], 'iPXE ROM clients fetched nothing over TFTP')
  const replies = server.dhcpReplies()
  t.ok(replies.length >= 6 && replies.every((r) => r.isIpxe && r.reason === 'ipxe' && r.bootfile === `${server.url}/boot.ipxe`), 'every DHCP reply handed iPXE the HTTP bootstrap')
  t.same(new Set(replies.map((r) => r.yiaddr)).size, 3, 'three machines, three leases')
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
