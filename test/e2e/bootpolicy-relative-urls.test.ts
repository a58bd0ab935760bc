/**
 * Regression test for relative chain URLs against real iPXE (fixed in core by 9ec45a4).
 * iPXE 1.0.0+git-20190125 (Debian 12's ipxe and ipxe-qemu) takes everything before the first `:` of
 * a URI as its scheme (src/core/uri.c parse_uri: `strchr(raw, ':')`), so a relative
 * `chain /boot?mac=52:54:…` failed at once with "Could not start download: Operation not supported
 * (http://ipxe.org/3c092003)" — the built-in bootstrap GET /boot.ipxe and every `again` / `login`
 * round trip. bootpolicy now sends no raw `:` in relative URLs (`${mac:hexhyp}`, hex as `41-42`).
 * This boots through the built-in bootstrap and an again() round trip, and checks the wire form.
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { BOOT_FAILURES } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

/** End at a failed download instead of after the bootstrap's 5 s "trying the next boot device". */
const failOn = new RegExp(`${BOOT_FAILURES.source}|Could not start download:[^\\n]*\\n`)
const mac = '52:54:00:e2:07:01'

t.test('relative /boot URLs work with real iPXE: bootstrap, then an again() round trip (BIOS)', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'relative-urls', payload, tftpFiles: [] })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac, timeoutMs: 180_000, failOn })
  t.equal(boot.report.cmdline, 'initrd=initrd.gz console=ttyS0 quiet panic=-1 step=2')
  t.same(
    server.decisions().map((d) => [d.kind, d.context.params.step]),
    [
      ['again', undefined],
      ['boot', '2'],
    ],
    'again, then boot',
  )

  const urls = server.httpRequests().map((r) => r.url)
  t.equal(urls[0], '/boot.ipxe', 'the built-in bootstrap')
  const boots = urls.filter((u) => u.startsWith('/boot?'))
  t.equal(boots.length, 2)
  for (const u of boots) {
    t.match(u, /^\/boot\?mac=52-54-00-e2-07-01&/, 'the MAC travels hyphenated')
    t.notMatch(decodeURIComponent(u), /\?[^#]*:/, 'no ":" in the query iPXE parsed')
  }
  t.match(boots[1], /&step=2(&|$)/, 'the round trip carried its parameter')
})
