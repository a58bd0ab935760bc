/**
 * The bootpolicy e2e helper without QEMU: the generated config, the tolerant report parser and the
 * decision-log reader against a real `bootpolicy serve` in a namespace (no VM, ~2 s).
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { parseMarkerReportTolerant, payloadArgList, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

t.test('report lines that do not start a line are still read', async (t) => {
  const log = ['http://10.213.1.1:8080/files/initrd.gz... oBOOTPOLICY-E2E-CMDLINE initrd=initrd.gz who=alpha', 'BOOTPOLICY-E2E-DMI product_serial=S 1', 'BOOTPOLICY-E2E-MARKER'].join('\n')
  t.same(parseMarkerReportTolerant(log), { cmdline: 'initrd=initrd.gz who=alpha', dmi: { product_serial: 'S 1' }, files: {} })
  t.equal(parseMarkerReportTolerant('no marker'), undefined)
  t.same(payloadArgList({ initrdName: 'initrd.gz' }, 'x=1'), ['initrd=initrd.gz', 'console=ttyS0', 'quiet', 'panic=-1', 'x=1'])
})

t.test('startBootpolicy serves DHCP+TFTP+HTTP in a namespace and exposes the decision log', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet({ routerAdvertisement: false })
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startBootpolicy({ net, scenario: 'per-mac', payload, tftpFiles: ['undionly.kpxe'] })
  t.match(server.config, {
    dhcp: { mode: 'full', interface: 'br0', serverAddress: net.serverIp, pool: net.pool, boot: { httpPort: 8080, ipxeNoPxeDhcp: true } },
    tftp: { enabled: true, address: net.serverIp, port: 69 },
    http: { host: net.serverIp, port: 8080 },
  })
  const lines = server.logLines().map((l) => l.msg)
  for (const msg of ['dhcp service listening', 'tftp service listening', 'http listening']) t.ok(lines.includes(msg), msg)

  // One /boot request from inside the namespace, the way the bootstrap sends it (curl is not needed).
  const get = (path: string): Promise<string> =>
    net.exec(process.execPath, [
      '-e',
      `
    require('http').get(${JSON.stringify(`${server.url}`)} + process.argv[1], (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => process.stdout.write(b)) })
  `,
      path,
    ])
  const script = await get('/boot?mac=52-54-00-e2-03-b2&buildarch=i386&platform=pcbios&serial_hex=41-26-42')
  t.match(script, /^#!ipxe\n/)
  t.match(script, /kernel \/files\/vmlinuz initrd=initrd\.gz console=ttyS0 quiet panic=-1 who=beta/)
  t.match(await get('/boot.ipxe'), /chain --replace --autofree \/boot\?mac=\$\{mac:hexhyp\}&/, 'the built-in bootstrap (relative, no raw ":")')
  const [d] = server.decisionsFor('52:54:00:e2:03:b2')
  t.match(d, { decidedBy: 'policy:10-per-mac.ts', kind: 'boot', context: { serial: 'A&B', arch: 'i386-pcbios' } })
  t.same(server.problems(), [])
})
