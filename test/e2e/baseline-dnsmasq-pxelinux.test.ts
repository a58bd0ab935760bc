/**
 * Baseline through lpxelinux: the reference of the seed 003/004 guide sites' BIOS boots
 * (bench/e2e-boot-times.ts). dnsmasq and a static HTTP server; iPXE's static script hands option
 * 210 to lpxelinux.0, which loads ldlinux.c32, pxelinux.cfg/default (and menu.c32) and the payload
 * over HTTP. Its own file: the baseline file already takes most of tap's 120 s per file.
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { runBaselineBoot } from '../helpers/e2e-baseline.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const mac = '52:54:00:e2:e0:02'

t.test('baseline through lpxelinux: iPXE hands option 210 to lpxelinux.0, which loads its modules, config and the payload over HTTP', async (t) => {
  const payload = await buildBootPayload()
  for (const kind of ['plain', 'menu'] as const) {
    await t.test(kind, async (t) => {
      const r = await runBaselineBoot({ firmware: 'bios', payload, mac, pxelinux: kind })
      t.match(r.report.cmdline, /console=ttyS0 quiet panic=-1 bp\.e2e=baseline/, 'the APPEND line of pxelinux.cfg/default')
      const urls = r.httpRequests.filter((q) => q.status === 200).map((q) => q.url)
      t.same(urls.slice(0, 3), ['/boot.ipxe', '/lpxelinux.0', '/ldlinux.c32'], 'iPXE chained lpxelinux.0, which loaded ldlinux.c32 from the same server')
      t.ok(urls.includes('/pxelinux.cfg/default'), 'lpxelinux read pxelinux.cfg/default')
      t.equal(urls.includes('/menu.c32'), kind === 'menu', kind === 'menu' ? 'and loaded menu.c32' : 'and no menu module')
      t.same(urls.slice(-2), ['/vmlinuz', '/initrd.gz'], 'then the kernel and the initrd over HTTP')
      t.comment(`lpxelinux ${kind}: marker at ${r.markerMs} ms after QEMU start`)
    })
  }
})
