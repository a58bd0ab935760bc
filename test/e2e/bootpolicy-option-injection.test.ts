/**
 * Option injection on real iPXE (BIOS): iPXE expands `${…}` before a command parses its options,
 * so a value starting with `-` would be read as an option. A menu titled `--delete` (as an option,
 * `menu --delete` deletes the menu and aborts the script), a gap and an item label starting with
 * `-`, and a boot message starting with `-n` (as an option: no newline, text eaten) must render and
 * run; the menu's timeout boots the default item, and the kernel's command line holds exactly the
 * admin's arguments, including ones starting with `-`. The policy is written here, in a temp dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, payloadArgList, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const mac = '52:54:00:e2:0a:01'

t.test("hazard: option injection — values starting with - render and run on real iPXE; the kernel gets exactly the admin's arguments", async (t) => {
  const payload = await buildBootPayload()
  const args = payloadArgList(payload, '-dash=1', 'opt=-n', 'last=--')
  const policies = mkdtempSync(join(tmpdir(), 'bp-e2e-optinj-'))
  t.teardown(() => rmSync(policies, { recursive: true, force: true }))
  writeFileSync(
    join(policies, '10-dashes.ts'),
    `export default () => ({
  kind: 'menu',
  title: '--delete',
  timeoutMs: 1000,
  default: 'go',
  items: [
    { gap: '-x gap line' },
    { id: 'go', text: '-n first item', action: {
      kind: 'boot',
      kernel: '/files/vmlinuz',
      initrds: ['/files/${payload.initrdName}'],
      args: ${JSON.stringify(args)},
      message: '-n hello from bootpolicy',
    } },
  ],
})
`,
  )
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'option-injection', policiesDir: policies, payload, tftpFiles: [] })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac, timeoutMs: 90_000 })
  t.equal(boot.report.cmdline, args.join(' '), "the kernel command line is exactly the admin's arguments")
  for (const text of ['--delete', '-x gap line', '-n first item']) t.match(boot.log, text, `menu shows ${JSON.stringify(text)}`)
  t.match(boot.log, /-n hello from bootpolicy\s*\n/, 'echo printed the message, -n included, and its newline')
  t.notMatch(boot.log, /-- (-n hello|--delete)/, 'iPXE consumed the -- that ends the options: it is not shown')
  t.notMatch(boot.log, /Unrecognised option|Option .* requires an argument/, 'iPXE read no value as an option')

  const decisions = server.decisionsFor(mac)
  t.equal(decisions.length, 1)
  t.match(decisions[0], { decidedBy: 'policy:10-dashes.ts', kind: 'menu' })
  t.same(server.problems(), [], 'no warnings or errors in the server log')
  t.comment(`marker at ${boot.markerMs} ms after QEMU start`)
})
