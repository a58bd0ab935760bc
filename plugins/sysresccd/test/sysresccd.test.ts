/** sysresccd plugin: layout detection, checksum verification, rendering for both layouts. */
import t from 'tap'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { archisoTree, legacyTree, type Tree } from './helpers.js'

type Tap = { teardown(fn: () => unknown): void }

const HTTP_BASE = 'http://10.0.0.1:8080/files/sysresccd/'
const argvs = (body: string): string[][] => parseScript(body).commands.map((c) => c.argv)
const find = (body: string, cmd: string): string[][] => argvs(body).filter((a) => a[0] === cmd)
const clean = (body: string): string => body.replace(/set bp-req \S+/, 'set bp-req <id>')

async function app(t: Tap, tree: Tree, policy: string, options: Record<string, unknown> = {}) {
  const dir = tempPolicies({ 'p.ts': policy })
  t.teardown(() => {
    tree.remove()
    return dir.remove()
  })
  const logs = captureLogs('info')
  const config = dir.config({ stateDir: join(tree.base, 'var'), plugins: [{ name: 'sysresccd', options: { root: tree.root, httpBase: HTTP_BASE, ...options } }] })
  const bp = await build(config, { logger: logs.logger })
  t.teardown(() => bp.close())
  return { bp, logs, config }
}

const BOOT = `import { sysresccdBoot } from 'bootpolicy/plugins/sysresccd'
export default (ctx: any) => sysresccdBoot({ ...(ctx.params.bits ? { bits: ctx.params.bits === 'cpuid' ? 'cpuid' : (Number(ctx.params.bits) as 32 | 64) } : {}), ...(ctx.params.km ? { keymap: ctx.params.km } : {}) })`

t.test('archiso: kernel arguments of the SystemRescue PXE docs, microcode before the initramfs, names for UEFI', async (t) => {
  const { bp, logs } = await app(t, archisoTree(), BOOT, { keymap: 'de', urlPrefix: '/files/sysresccd/', args: ['nofirewall'] })
  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56&buildarch=x86_64&platform=efi')
  t.same(find(res.body, 'kernel'), [
    [
      'kernel',
      '/files/sysresccd/sysresccd/boot/x86_64/vmlinuz',
      'archisobasedir=sysresccd',
      'ip=dhcp',
      `archiso_http_srv=${HTTP_BASE}`,
      'checksum',
      'setkmap=de',
      'BOOTIF=01-52-54-00-12-34-56',
      'nofirewall',
      'initrd=intel_ucode.img',
      'initrd=amd_ucode.img',
      'initrd=sysresccd.img',
    ],
  ])
  t.same(find(res.body, 'initrd'), [
    ['initrd', '--name', 'intel_ucode.img', '/files/sysresccd/sysresccd/boot/intel_ucode.img'],
    ['initrd', '--name', 'amd_ucode.img', '/files/sysresccd/sysresccd/boot/amd_ucode.img'],
    ['initrd', '--name', 'sysresccd.img', '/files/sysresccd/sysresccd/boot/x86_64/sysresccd.img'],
  ])
  t.equal(find(res.body, 'boot').length, 1)
  t.matchSnapshot(clean(res.body), 'archiso script')
  t.ok(logs.records().some((r) => r.msg === 'SystemRescue found' && r.layout === 'archiso' && r.version === '11.02' && r.checksum === 'verified'))

  const us = await bp.app.inject('/boot?km=us')
  t.same(
    find(us.body, 'kernel')[0]!.slice(1, 7),
    ['/files/sysresccd/sysresccd/boot/x86_64/vmlinuz', 'archisobasedir=sysresccd', 'ip=dhcp', `archiso_http_srv=${HTTP_BASE}`, 'checksum', 'setkmap=us'],
    'no BOOTIF without a MAC; keymap per decision',
  )
})

t.test('archiso without microcode or checksum file: no ucode initrds, no `checksum`, a warning', async (t) => {
  const { bp, logs } = await app(t, archisoTree({ ucode: false, checksum: 'none' }), BOOT)
  const res = await bp.app.inject('/boot')
  t.same(find(res.body, 'kernel')[0], [
    'kernel',
    `${HTTP_BASE}sysresccd/boot/x86_64/vmlinuz`,
    'archisobasedir=sysresccd',
    'ip=dhcp',
    `archiso_http_srv=${HTTP_BASE}`,
    'setkmap=us',
    'initrd=sysresccd.img',
  ])
  t.ok(logs.records().some((r) => r.msg === 'no checksum file beside the root file system; not verified'))
})

t.test('checksum: a mismatch stops setup with the file, both digests and what to do', async (t) => {
  const tree = archisoTree({ checksum: 'bad' })
  const dir = tempPolicies({ 'p.ts': 'export default () => undefined' })
  t.teardown(() => {
    tree.remove()
    return dir.remove()
  })
  const cfg = (options: Record<string, unknown> = {}) =>
    dir.config({ stateDir: join(tree.base, 'var'), plugins: [{ name: 'sysresccd', options: { root: tree.root, httpBase: HTTP_BASE, ...options } }] })
  await t.rejects(build(cfg()), {
    code: 'BP_ERR_PLUGIN_HOOK',
    message: /airootfs\.sfs: sha512 mismatch: sysresccd\/x86_64\/airootfs\.sha512 says [0-9a-f]{128}, the file hashes to [0-9a-f]{128}; copy it again/,
  })
  const skipped = await build(cfg({ verifyChecksum: false }))
  await skipped.close()
  t.pass('verifyChecksum: false starts anyway')
  const legacy = legacyTree({ checksum: 'bad' })
  t.teardown(() => legacy.remove())
  await t.rejects(build(dir.config({ stateDir: join(legacy.base, 'var'), plugins: [{ name: 'sysresccd', options: { root: legacy.root, httpBase: HTTP_BASE } }] })), {
    message: /sysrcd\.dat: md5 mismatch/,
  })
})

t.test('checksum: a verified file is not hashed again at the next start; a changed one is', async (t) => {
  const tree = archisoTree()
  const { logs, config } = await app(t, tree, BOOT)
  const second = captureLogs('info')
  const bp2 = await build(config, { logger: second.logger })
  await bp2.close()
  t.ok(second.records().some((r) => r.msg === 'SystemRescue found' && r.checksum === 'cached'))
  t.ok(logs.records().some((r) => r.msg === 'SystemRescue found' && r.checksum === 'verified'))
  tree.write('sysresccd/x86_64/airootfs.sfs', 'Squashfs root file system\n') // same size, other bytes, new mtime
  await t.rejects(build(config, { logger: captureLogs('info').logger }), { message: /sha512 mismatch/ })
})

t.test('not an ISO tree: setup names what is missing', async (t) => {
  const tree = archisoTree()
  tree.remove()
  const partial = legacyTree({ kernels: [] })
  const dir = tempPolicies({ 'p.ts': 'export default () => undefined' })
  t.teardown(() => {
    partial.remove()
    return dir.remove()
  })
  await t.rejects(build(dir.config({ plugins: [{ name: 'sysresccd', options: { root: partial.root, httpBase: HTTP_BASE } }] })), {
    code: 'BP_ERR_PLUGIN_HOOK',
    message: /is not an extracted SystemRescue ISO: missing isolinux\/rescue32 or rescue64/,
  })
  await t.rejects(build(dir.config({ plugins: [{ name: 'sysresccd', options: { root: partial.root, httpBase: '/files/sysresccd/' } }] })), { code: 'BP_ERR_PLUGIN_OPTIONS', message: /httpBase/ })
})

t.test('legacy: rescue64 for x86_64, rescue32 for i386, setkmap dodhcp netboot=<sysrcd.dat URL>', async (t) => {
  const { bp } = await app(t, legacyTree(), BOOT, { keymap: 'de' })
  const x64 = await bp.app.inject('/boot?mac=52:54:00:12:34:56&buildarch=x86_64&platform=efi')
  t.same(find(x64.body, 'kernel'), [['kernel', `${HTTP_BASE}isolinux/rescue64`, 'setkmap=de', 'dodhcp', `netboot=${HTTP_BASE}sysrcd.dat`, 'initrd=initram.igz']])
  t.same(find(x64.body, 'initrd'), [['initrd', '--name', 'initram.igz', `${HTTP_BASE}isolinux/initram.igz`]])
  const x86 = await bp.app.inject('/boot?buildarch=i386&platform=pcbios')
  t.equal(find(x86.body, 'kernel')[0]![1], `${HTTP_BASE}isolinux/rescue32`)
  const forced = await bp.app.inject('/boot?buildarch=i386&platform=pcbios&bits=64')
  t.equal(find(forced.body, 'kernel')[0]![1], `${HTTP_BASE}isolinux/rescue64`)
})

t.test('legacy, unknown arch or bits=cpuid: iPXE tests the CPU; labels stay unique with two entries', async (t) => {
  const policy = `import { menu } from 'bootpolicy/policy'
import { sysresccdItem } from 'bootpolicy/plugins/sysresccd'
export default () => menu({ items: [sysresccdItem('a', 'A', { bits: 'cpuid' }), sysresccdItem('b', 'B', { bits: 'cpuid', keymap: 'fr' })] })`
  const { bp } = await app(t, legacyTree(), policy)
  const res = await bp.app.inject('/boot')
  const { labels, commands } = parseScript(res.body)
  t.same(
    commands.filter((c) => c.argv[0] === 'cpuid').map((c) => c.argv),
    [
      ['cpuid', '--ext', '29'],
      ['goto', 'sysresccd_0_64'],
      ['goto', 'sysresccd_0_32'],
      ['cpuid', '--ext', '29'],
      ['goto', 'sysresccd_1_64'],
      ['goto', 'sysresccd_1_32'],
    ].filter((a) => a[0] === 'cpuid'),
  )
  t.ok(['sysresccd_0_64', 'sysresccd_0_32', 'sysresccd_1_64', 'sysresccd_1_32'].every((l) => labels.includes(l)))
  t.equal(new Set(labels).size, labels.length, 'no duplicate label')
  t.match(res.body, /cpuid --ext 29 && goto sysresccd_0_64 \|\| goto sysresccd_0_32\n:sysresccd_0_64\nkernel \S+rescue64 /)
  t.matchSnapshot(clean(res.body), 'legacy menu with cpuid')
})

t.test('validation: bits the tree cannot boot, bad keymap, unknown field', async (t) => {
  const policy = `export default (ctx: any) => ({ kind: 'sysresccd.boot', ...JSON.parse(ctx.params.d ?? '{}') })`
  const only32 = await app(t, legacyTree({ kernels: [32] }), policy)
  const archiso = await app(t, archisoTree(), policy)
  const problem = async (bp: typeof only32.bp, d: object) =>
    (await bp.engine.handle({ query: `d=${encodeURIComponent(JSON.stringify(d))}`, remoteAddress: '127.0.0.1', requestId: 'x' })).record.error?.message
  t.match(await problem(only32.bp, { bits: 64 }), /isolinux\/rescue64 is missing/)
  t.match(await problem(archiso.bp, { bits: 32 }), /only a 64-bit kernel/)
  t.match(await problem(archiso.bp, { keymap: 'de us' }), /keymap: expected/)
  t.match(await problem(archiso.bp, { bits: 128 }), /bits: expected 32, 64 or "cpuid"/)
  t.match(await problem(archiso.bp, { kernel: '/evil' }), /\.kernel: unknown field/)
  t.equal(await problem(only32.bp, { bits: 'cpuid' }), undefined, 'cpuid with one kernel falls back to it')
  t.equal(find((await only32.bp.app.inject('/boot?buildarch=x86_64&platform=efi')).body, 'kernel')[0]![1], `${HTTP_BASE}isolinux/rescue32`, 'a missing 64-bit kernel falls back to 32')
})
