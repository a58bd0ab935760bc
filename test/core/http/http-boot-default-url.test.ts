/**
 * The UEFI HTTP-boot URL that DHCP hands out by default (no dhcp.boot.httpBootUrlBase) must name a
 * route bootpolicy serves: it used to be http://<server>:<port>/ipxe.efi, which was a 404. Followed
 * here over a real socket with the firmware's own requests (OVMF sends HEAD, then GET).
 */
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { defaultBoot } from '../../../core/dhcp/boot-file.js'
import { clientFacts } from '../../../core/dhcp/client-facts.js'
import { decode, encode } from '../../../core/dhcp/packet-codec.js'
import { resolveDhcpConfig } from '../../../core/dhcp/resolve-config.js'
import { build } from '../../../core/http/build-app.js'
import { clientPacket, u16 } from '../../helpers/dhcp-packets.js'
import { requireFile } from '../../helpers/e2e-require.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test("the default HTTP-boot URL serves the arch map's iPXE binary from files.dir", async (t) => {
  const ipxeEfi = requireFile('/usr/lib/ipxe/ipxe.efi', 'ipxe')
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const files = join(dir.dir, 'files')
  mkdirSync(files)
  copyFileSync(ipxeEfi, join(files, 'ipxe.efi')) // copyFileSync follows Debian's symlink into /boot
  const bp = await build(dir.config({ files: { dir: files } }))
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as AddressInfo

  // Only the port is set: every other boot key keeps its default (arch 16 → ipxe.efi).
  const dhcp = resolveDhcpConfig({ mode: 'full', pool: { start: '127.0.0.100', end: '127.0.0.200' }, boot: { httpPort: port } })
  const discover = clientPacket({
    mac: '52:54:00:e2:0f:01',
    options: [
      [60, 'HTTPClient:Arch:00016:UNDI:003000'],
      [93, u16(16)],
    ],
  })
  const choice = defaultBoot(clientFacts(decode(encode(discover)))!, dhcp, '127.0.0.1')
  t.equal(choice.reason, 'http-boot')
  t.equal(choice.bootfile, `http://127.0.0.1:${port}/files/ipxe.efi`)

  const head = await fetch(choice.bootfile!, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD of the default URL')
  const expected = readFileSync(ipxeEfi)
  t.equal(head.headers.get('content-length'), String(expected.length), 'with the size the firmware allocates for')
  const got = await fetch(choice.bootfile!)
  t.equal(got.status, 200, 'GET of the default URL')
  const body = Buffer.from(await got.arrayBuffer())
  t.equal(sha(body), sha(expected), 'the bytes of ipxe.efi')
  t.equal(body.subarray(0, 2).toString('latin1'), 'MZ', 'a PE image')
})
