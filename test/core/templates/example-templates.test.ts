/**
 * The example templates in templates/ (seed 001 SystemRescueCd menu, seed 002 SmartOS menu) render
 * through the full app from the vars a policy gives them, so the shipped examples cannot rot.
 */
import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'

const TEMPLATES = fileURLToPath(new URL('../../../templates', import.meta.url))

const POLICY = `import { template } from 'bootpolicy/policy'
export default (ctx: any) => ctx.params.seed === '001'
  ? template('sysresccd-menu', {
      title: 'Network boot', base: 'http://diskstation/ipxe/sysresccd/', keymap: 'de', timeoutMs: 10000,
      kernels: [
        { id: 'srcd32', text: 'SystemRescueCd 32-bit', kernel: 'rescue32' },
        { id: 'srcd64', text: 'SystemRescueCd 64-bit', kernel: 'rescue64' },
      ],
    })
  : template('smartos-menu', {
      title: "Welcome to iPXE's boot menu", root: 'http://10.1.1.7', default: 'smartos1', timeoutMs: 30000,
      memtest: ctx.params.memtest === 'no' ? undefined : 'http://10.1.1.7/memtest86/memtest86-5.01',
      builds: [{ id: 'smartos1', build: '20130808T195337Z' }, { id: 'smartos2', build: '20130405T010449Z' }],
    })`

async function app(t: Test) {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ templates: { dir: TEMPLATES } }))
  t.teardown(() => bp.close())
  t.same((await bp.app.inject('/healthz')).json().problems ?? [], [], 'the example templates load')
  return async (query: string) => (await bp.app.inject(`/boot?${query}`)).body.replace(/\nset bp-req \w+/, '')
}

/** Every `goto` target and the menu's default are labels of the script. */
function checkGotos(t: Test, script: string): void {
  const { labels, commands } = parseScript(script)
  // `goto ${target}` expands to '' here (the menu's choice): only literal targets are checked.
  for (const c of commands) if (c.argv[0] === 'goto' && c.argv[1]) t.ok(labels.includes(c.argv[1]), `label ${c.argv[1]} exists`)
  const choose = commands.find((c) => c.argv[0] === 'choose')!
  t.ok(labels.includes(choose.argv[choose.argv.indexOf('--default') + 1]!), 'the default item has a label')
}

t.test('seed 001: the SystemRescueCd menu', async (t) => {
  const boot = await app(t)
  const script = await boot('seed=001')
  t.equal(
    script,
    `#!ipxe
:start
menu Network boot
item srcd32 SystemRescueCd 32-bit
item srcd64 SystemRescueCd 64-bit
item shell iPXE shell
item disk Boot from the local disk
choose --default disk --timeout 10000 target && goto \${target} || goto disk

:shell
echo Type exit to return to the menu
shell
goto start

:disk
exit

:srcd32
echo Booting SystemRescueCd 32-bit
kernel http://diskstation/ipxe/sysresccd/isolinux/rescue32 initrd=initram.igz setkmap=de dodhcp netboot=http://diskstation/ipxe/sysresccd/sysrcd.dat
initrd http://diskstation/ipxe/sysresccd/isolinux/initram.igz
boot || goto start

:srcd64
echo Booting SystemRescueCd 64-bit
kernel http://diskstation/ipxe/sysresccd/isolinux/rescue64 initrd=initram.igz setkmap=de dodhcp netboot=http://diskstation/ipxe/sysresccd/sysrcd.dat
initrd http://diskstation/ipxe/sysresccd/isolinux/initram.igz
boot || goto start
`,
  )
  checkGotos(t, script)
})

t.test('seed 002: the SmartOS menu, with and without memtest', async (t) => {
  const boot = await app(t)
  const kernel = (build: string, extra = '') => `kernel http://10.1.1.7/smartos/${build}/platform/i86pc/kernel/amd64/unix -B console=text,smartos=true${extra}
module http://10.1.1.7/smartos/${build}/platform/i86pc/amd64/boot_archive
boot || goto start`
  const script = await boot('seed=002')
  t.equal(
    script,
    `#!ipxe
:start
menu Welcome to iPXE's boot menu
item --gap -- SmartOS 20130808T195337Z
item smartos1 Boot SmartOS 20130808T195337Z
item smartos1-noimport Boot SmartOS 20130808T195337Z noimport
item --gap -- SmartOS 20130405T010449Z
item smartos2 Boot SmartOS 20130405T010449Z
item smartos2-noimport Boot SmartOS 20130405T010449Z noimport
item --gap -- Utilities
item memtest Memtest86+
item shell iPXE shell
item reboot Reboot
item exit Boot the local disk
choose --default smartos1 --timeout 30000 target && goto \${target} || goto exit

:shell
echo Type exit to return to the menu
shell
goto start

:reboot
reboot

:exit
exit

:smartos1
${kernel('20130808T195337Z')}

:smartos1-noimport
${kernel('20130808T195337Z', ',noimport=true')}

:smartos2
${kernel('20130405T010449Z')}

:smartos2-noimport
${kernel('20130405T010449Z', ',noimport=true')}

:memtest
kernel http://10.1.1.7/memtest86/memtest86-5.01
boot || goto start
`,
  )
  checkGotos(t, script)
  const without = await boot('seed=002&memtest=no')
  t.notMatch(without, /memtest/, 'no memtest entry or label without the var')
  checkGotos(t, without)
})
