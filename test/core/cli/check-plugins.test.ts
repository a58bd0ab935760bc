/**
 * `bootpolicy check` with plugins, real CLI in an `init` site outside the repository: helper
 * imports, misspelled names, bad options, plugin decision kinds as default. Run `npm run build` first.
 */
import t from 'tap'
import { initSite } from '../../helpers/site-dir.js'

// Each case spawns the real CLI several times (node, TypeScript, isolated-vm): on a loaded 2-core machine a file takes minutes.
t.setTimeout(600_000)

const PXELINUX_POLICY = `import type { BootContext, Decision } from 'bootpolicy/policy'
import { pxelinuxChain, pxelinuxEntry } from 'bootpolicy/plugins/pxelinux-cfg'

export default function pxe(ctx: BootContext): Decision | undefined {
  if (ctx.mac !== '00:12:34:56:78:90') return undefined
  return pxelinuxChain({ default: 'local', entries: [pxelinuxEntry('local', 'chain.c32', { append: 'hd0' })] }) as unknown as Decision
}
`

t.test('hazard: a policy importing a plugin helper (pxelinux-cfg) was rejected by check; now it passes', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.write('policies/20-pxelinux.ts', PXELINUX_POLICY)
  site.config({ plugins: [{ name: 'pxelinux-cfg', options: { lpxelinuxUrl: '/files/lpxelinux.0' } }] })
  const r = site.cli('check')
  t.equal(r.code, 0, r.out + r.err)
  t.match(r.out, /^ok: /m)
  // A type error in the helper call is caught against the helper's own types.
  site.write('policies/20-pxelinux.ts', PXELINUX_POLICY.replace("pxelinuxEntry('local', 'chain.c32'", "pxelinuxEntry('local', 42"))
  const bad = site.cli('check')
  t.equal(bad.code, 1)
  t.match(bad.out, /^policies\/20-pxelinux\.ts:6:\d+: BP_ERR_POLICY_TYPE TS2345: Argument of type 'number' is not assignable to parameter of type 'string'/m)
})

t.test('hazard: a misspelled plugin name passed check; now it fails at the name, with a suggestion', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.config({ plugins: [{ name: 'pxelinux-cgf' }] })
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  t.match(r.out, /^bootpolicy\.json:\d+:\d+: BP_ERR_PLUGIN_LOAD .*pxelinux-cgf.*did you mean pxelinux-cfg\?$/m)
  const line = Number(/^bootpolicy\.json:(\d+):/m.exec(r.out)![1])
  t.match(site.read('bootpolicy.json').split('\n')[line - 1], /"name": "pxelinux-cgf"/, 'the line of the name')
})

t.test('hazard: bad plugin options passed check; now they fail, validated against the plugin schema', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.config({ plugins: [{ name: 'pxelinux-cfg', options: { maxClients: 0, lpxelinuxUrl: 'has space' } }] })
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  t.match(r.out, /^bootpolicy\.json:\d+:\d+: BP_ERR_PLUGIN_OPTIONS .*\/maxClients: must be >= 1/m)
  t.match(r.out, /\/lpxelinuxUrl: must match pattern/)
})

t.test('hazard: a default decision of a plugin kind was never checked; now a bad one fails', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.config({ plugins: [{ name: 'pxelinux-cfg' }], default: { kind: 'pxelinux-cfg.chain' } })
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  t.match(r.out, /^bootpolicy\.json:\d+:\d+: BP_ERR_CONFIG_INVALID default/m)
  site.config({ default: { kind: 'pxelinux-cfg.chain', config: { default: 'local', entries: [{ label: 'local', kernel: 'chain.c32' }] } } })
  const ok = site.cli('check')
  t.equal(ok.code, 0, ok.out)
})
