/**
 * Seed 000 part 3 with bootpolicy as the only server: a UEFI client (iPXE ROM) gets a menu whose
 * 2 s timeout picks the default item, which boots the payload. Nobody presses a key.
 * Policies: test/fixtures/e2e/menu-timeout/policies.
 */
import t from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { parseMarkerReportTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { BOOT_FAILURES, startQemu } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const mac = '52:54:00:e2:00:03'

t.test('seed 000 part 3: the menu timeout boots the default item (UEFI)', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'menu-timeout', payload, tftpFiles: [] })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  // Raw console chunks with their arrival times: the menu is drawn with cursor moves, not lines.
  const vm = await startQemu({ net, firmware: 'uefi', mac })
  const seen: Record<string, number> = {}
  let raw = ''
  vm.process.onOutput((chunk, atMs) => {
    raw += chunk
    for (const [name, re] of [
      ['menu', /iPXE Boot Menu/],
      ['kernel', /\/files\/vmlinuz\.\.\./],
    ] as const) {
      if (seen[name] === undefined && re.test(raw)) seen[name] = Math.round(atMs)
    }
  })
  let markerMs: number
  try {
    markerMs = Math.round((await vm.waitFor(new RegExp(PAYLOAD_MARKER), 90_000, { failOn: BOOT_FAILURES })).atMs)
    await vm.waitForExit(10_000).catch(() => undefined)
  } finally {
    await vm.stop()
  }
  const log = vm.log()
  t.equal(parseMarkerReportTolerant(log)?.cmdline, 'vmlinuz initrd=initrd.gz console=ttyS0 quiet panic=-1 menu=default-by-timeout', 'the default item booted')
  t.ok(seen.menu !== undefined, 'the menu was shown on the console')
  for (const text of ['1. Local disk', '2. bootpolicy e2e payload', 'iPXE shell']) t.match(log, text, `item "${text}" shown`)
  // iPXE shows the seconds left beside the default item: (2), then (1), then it boots it.
  t.match(log, /2\. bootpolicy e2e payload\s+\(2\)/, 'the countdown ran on the default item: (2)')
  t.match(log, /\(1\)/, '… (1)')
  t.ok(seen.kernel !== undefined && seen.menu !== undefined && seen.kernel > seen.menu, 'the kernel was fetched after the menu')
  t.comment(`menu shown at ${seen.menu} ms, kernel fetch began at ${seen.kernel} ms (timeout 2000 ms), marker at ${markerMs} ms after QEMU start`)

  const decisions = server.decisionsFor(mac)
  t.equal(decisions.length, 1, 'one /boot request: the menu carries its items inline')
  t.match(decisions[0], { decidedBy: 'policy:50-menu.ts', kind: 'menu', context: { mac, arch: 'x86_64-efi' } })
  t.same(
    server.httpRequests().map((r) => [r.method, r.url.replace(/\?.*/, '?…'), r.status]),
    [
      ['GET', '/boot.ipxe', 200],
      ['GET', '/boot?…', 200],
      ['GET', '/files/vmlinuz', 200],
      ['GET', '/files/initrd.gz', 200],
    ],
    'bootstrap, decision, kernel, initrd: nothing else',
  )
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
