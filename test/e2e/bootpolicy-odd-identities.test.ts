/**
 * Odd identities with bootpolicy as the only server. QEMU's `-smbios type=1,…` gives the machine a
 * serial, manufacturer and product holding spaces, `&`, `=`, `#`, `+`, `,`, `"`, `%41` and
 * non-ASCII (QEMU takes any bytes; only `,` must be doubled, which smbiosArg does). iPXE sends them
 * hex-encoded (`serial_hex=${serial:hexhyp}`, from bootpolicy's bootstrap); the policy (test/fixtures/e2e/odd-identities) compares
 * them with the exact expected strings and tells the kernel `serialok=1` etc., and echoes the
 * serial on the console. The decision log must show the exact values the policy matched on.
 *
 * A third machine has the same serial with `%41` replaced by `A` — what a server that percent-
 * decodes twice would see — and must get `serialok=0`.
 */
import t from 'tap'
import { EXPECTED } from '../fixtures/e2e/odd-identities/policies/20-odd.js'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import type { Firmware } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const uuid = '4c4c4544-0042-3510-8052-b4c04f4d3232'
const nearMiss = EXPECTED.serial.replace('%41', 'A')

/** Code page 437, bytes 0x80–0xFF: SeaBIOS's serial console shows VGA text in these glyphs. */
const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

/**
 * How the echoed serial reaches our serial log (decoded as latin1) when iPXE prints exactly the
 * UTF-8 bytes of `text`: SeaBIOS (BIOS) turns each byte ≥ 0x80 into its CP437 glyph, sent as
 * UTF-8; iPXE's EFI console prints `?` for each such byte.
 */
function consoleForm(text: string, firmware: Firmware): string {
  const shown = [...Buffer.from(text, 'utf8')].map((b) => (b < 0x80 ? String.fromCharCode(b) : firmware === 'bios' ? CP437_HIGH[b - 0x80] : '?')).join('')
  return Buffer.from(shown, 'utf8').toString('latin1')
}

const utf8Hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex')
/** The payload's report is read from a latin1-decoded log: turn its values back into UTF-8 text. */
const fromLog = (value: string | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value, 'latin1').toString('utf8'))

const machines: ReadonlyArray<{ firmware: Firmware; mac: string; serial: string; serialok: 0 | 1 }> = [
  { firmware: 'bios', mac: '52:54:00:e2:05:01', serial: EXPECTED.serial, serialok: 1 },
  { firmware: 'uefi', mac: '52:54:00:e2:05:02', serial: EXPECTED.serial, serialok: 1 },
  { firmware: 'bios', mac: '52:54:00:e2:05:03', serial: nearMiss, serialok: 0 },
]

t.test('odd SMBIOS identities reach the policy exactly', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'odd-identities', payload, tftpFiles: [] })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })

  for (const { firmware, mac, serial, serialok } of machines) {
    await t.test(`${firmware} ${mac} serial ${JSON.stringify(serial)}`, async (t) => {
      const smbios = { serial, manufacturer: EXPECTED.manufacturer, product: EXPECTED.product, uuid }
      const boot = await bootToMarkerTolerant({ net, firmware, mac, smbios, timeoutMs: 180_000 })

      const image = firmware === 'bios' ? '' : 'vmlinuz '
      t.equal(
        boot.report.cmdline,
        `${image}initrd=initrd.gz console=ttyS0 quiet panic=-1 serialok=${serialok} manufacturerok=1 productok=1 serialhex=${utf8Hex(serial)}`,
        'the policy matched exactly, and passed the bytes on in a safe form',
      )
      t.same(
        { serial: fromLog(boot.report.dmi.product_serial), manufacturer: fromLog(boot.report.dmi.sys_vendor), product: fromLog(boot.report.dmi.product_name) },
        { serial, manufacturer: EXPECTED.manufacturer, product: EXPECTED.product },
        'the guest sees the same SMBIOS strings (QEMU passed them through unchanged)',
      )
      t.match(boot.log, `bootpolicy saw serial [${consoleForm(serial, firmware)}]`, 'iPXE echoed exactly the bytes of the serial')

      const decisions = server.decisionsFor(mac)
      t.equal(decisions.length, 1)
      t.match(decisions[0], { decidedBy: 'policy:20-odd.ts', kind: 'boot' })
      const ctx = decisions[0]!.context
      t.same(
        { serial: ctx.serial, manufacturer: ctx.manufacturer, product: ctx.product, uuid: ctx.uuid, dropped: ctx.dropped },
        { serial, manufacturer: EXPECTED.manufacturer, product: EXPECTED.product, uuid, dropped: [] },
        'the decision log holds the exact values the policy matched on',
      )
      t.comment(`${firmware}: marker at ${boot.markerMs} ms after QEMU start`)
    })
  }

  const boots = server.httpRequests().filter((r) => r.url.startsWith('/boot?'))
  t.equal(boots.length, machines.length, 'one /boot request per machine')
  for (const r of boots) {
    t.match(r.url, /serial_hex=[0-9a-f]{2}(-[0-9a-f]{2})+&/i, 'the serial travelled hex-encoded (${serial:hexhyp})')
    t.notMatch(r.url, /%FFFFFF/i, "no sign-extended bytes: iPXE's hex form carries non-ASCII safely")
  }
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
