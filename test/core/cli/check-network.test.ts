/**
 * `bootpolicy check` of DHCP/TFTP settings and sanboot URIs, real CLI in an `init` site outside
 * the repository. Run `npm run build` first.
 */
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { initSite } from '../../helpers/site-dir.js'

// Each case spawns the real CLI several times (node, TypeScript, isolated-vm): on a loaded 2-core machine a file takes minutes.
t.setTimeout(600_000)

t.test('hazard: a DHCP pool outside the served subnet passed check; now it fails, as do stray and twice-reserved entries', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.config({
    dhcp: {
      mode: 'full',
      serverAddress: '192.0.2.1',
      subnetMask: '255.255.255.0',
      pool: { start: '198.51.100.10', end: '198.51.100.20' },
      reservations: [
        { mac: '52:54:00:00:00:01', ip: '198.51.100.11' },
        { mac: '52-54-00-00-00-01', ip: '198.51.100.12' },
      ],
    },
  })
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  const lines = site.read('bootpolicy.json').split('\n')
  const start = /^bootpolicy\.json:(\d+):\d+: BP_ERR_CONFIG_DHCP dhcp\.pool\.start 198\.51\.100\.10 is outside the network of dhcp\.serverAddress 192\.0\.2\.1\/255\.255\.255\.0$/m.exec(r.out)
  t.ok(start, r.out)
  t.match(lines[Number(start![1]) - 1], /"start": "198\.51\.100\.10"/)
  t.match(r.out, /BP_ERR_CONFIG_DHCP dhcp\.pool\.end 198\.51\.100\.20 is outside/)
  t.match(r.out, /BP_ERR_CONFIG_DHCP dhcp\/reservations\/1\/mac is reserved twice/)
  // Inside the subnet: clean.
  site.config({ dhcp: { mode: 'full', serverAddress: '192.0.2.1', pool: { start: '192.0.2.100', end: '192.0.2.150' }, reservations: [{ mac: '52:54:00:00:00:01', ip: '192.0.2.20' }] } })
  const ok = site.cli('check')
  t.equal(ok.code, 0, ok.out)
})

t.test('hazard: a boot file missing from tftp.root passed check; now it fails at its archMap entry', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  mkdirSync(join(site.dir, 'tftp'))
  writeFileSync(join(site.dir, 'tftp', 'undionly.kpxe'), 'x')
  site.config({ tftp: { enabled: true, root: 'tftp' }, dhcp: { mode: 'proxy', boot: { archMap: { 0: 'undionly.kpxe', 7: 'ipxe-x64.efi' } } } })
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  const hit = /^bootpolicy\.json:(\d+):\d+: BP_ERR_CONFIG_BOOT_FILE boot file ipxe-x64\.efi \(arch 7\) is not under tftp\.root/m.exec(r.out)
  t.ok(hit, r.out)
  t.match(site.read('bootpolicy.json').split('\n')[Number(hit![1]) - 1], /"7": "ipxe-x64\.efi"/)
  t.notMatch(r.out, /undionly\.kpxe \(arch 0\)/, 'a present file is not reported')
  t.match(r.out, /warning: BPWRN006 default boot files missing under tftp\.root .*snp-arm64\.efi/, 'the built-in names only warn')
  writeFileSync(join(site.dir, 'tftp', 'ipxe-x64.efi'), 'x')
  const ok = site.cli('check')
  t.equal(ok.code, 0, `warnings alone pass: ${ok.out}`)
})

t.test("hazard: a sanboot URI with an empty LUN (LUN 0, tgtd's controller) passed silently; now it is warned at its line", async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.write(
    'policies/30-san.ts',
    `import { sanboot, type BootContext, type Decision } from 'bootpolicy/policy'\n\nexport default (ctx: BootContext): Decision | undefined =>\n  ctx.mac === '52:54:00:00:00:07' ? sanboot('iscsi:192.0.2.5::::iqn.2026-01.example:disk') : undefined\n`,
  )
  const r = site.cli('check')
  t.equal(r.code, 0, 'a warning does not fail check')
  t.match(r.out, /^policies\/30-san\.ts:4:46: warning: BPWRN005 sanboot URI iscsi:192\.0\.2\.5::::iqn\.2026-01\.example:disk has an empty LUN/m)
  t.match(r.out, /^0 errors, 1 warning$/m)
})
