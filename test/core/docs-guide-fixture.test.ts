/**
 * test/helpers/guide-fixture.ts turns a migration guide's marked blocks into a scenario's files;
 * here it is tried with hostile guides, and the three guides whose e2e scenarios use it (seeds 000,
 * 003, 004; 001 and 002 below) are checked without a VM: their blocks exist, their configs pass the
 * config schema, and the policies they print are the shipped ones under policies/.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { configProblems } from '../../core/config/load-config.js'
import { defaultImportables } from '../../core/policy/compile-policy.js'
import { runPolicyTests } from '../../core/policy/policy-tests.js'
import { guideBlocks, writeGuideFixture } from '../helpers/guide-fixture.js'

const guides = fileURLToPath(new URL('../../docs/guides/', import.meta.url))

interface Teardown {
  teardown(fn: () => void): void
}

function tmp(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'guide-fixture-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function guideFile(t: Teardown, text: string): string {
  const dir = tmp(t)
  const file = join(dir, 'guide.md')
  writeFileSync(file, text)
  return file
}

t.test('marked blocks are written with substitutions; unmarked blocks are not', async (t) => {
  const g = guideFile(
    t,
    [
      '# g',
      '',
      '```json',
      '{"unmarked": 1}',
      '```',
      '',
      '```json file=bootpolicy.json',
      '{ "a": "10.0.0.10", "b": "10.0.0.1", "c": "eth0" }',
      '```',
      '',
      '````ts file=policies/x.ts',
      'const s = "```"',
      "export default () => '10.0.0.10'",
      '````',
      '',
    ].join('\n'),
  )
  const dest = tmp(t)
  const files = writeGuideFixture(g, dest, { '10.0.0.1': '10.9.9.1', '10.0.0.10': '10.9.9.2', eth0: 'br0' })
  t.same(Object.keys(files), ['bootpolicy.json', 'policies/x.ts'])
  t.same(JSON.parse(readFileSync(join(dest, 'bootpolicy.json'), 'utf8')), { a: '10.9.9.2', b: '10.9.9.1', c: 'br0' }, 'longest key first: 10.0.0.10 is not hit by 10.0.0.1')
  t.equal(readFileSync(join(dest, 'policies/x.ts'), 'utf8'), 'const s = "```"\nexport default () => \'10.9.9.2\'\n', 'a longer fence keeps an inner ``` inside the block')
  t.same(readdirSync(dest).sort(), ['bootpolicy.json', 'policies'])
})

t.test('a replacement is not replaced again', async (t) => {
  const g = guideFile(t, '```txt file=a.txt\nA B\n```\n')
  const dest = tmp(t)
  writeGuideFixture(g, dest, { A: 'B', B: 'A' })
  t.equal(readFileSync(join(dest, 'a.txt'), 'utf8'), 'B A\n')
})

t.test('hostile or stale guides fail loudly', async (t) => {
  const dest = tmp(t)
  t.throws(() => writeGuideFixture(guideFile(t, '```json\n{}\n```\n'), dest), /no fenced block marked file=/)
  t.throws(() => writeGuideFixture(guideFile(t, '```json file=a.json\n{}\n```\n'), dest, { '10.188.0.10': 'x' }), /substitutions not found in any file= block: "10\.188\.0\.10"/)
  t.throws(() => guideBlocks('```ts file=../../etc/x.ts\nx\n```\n'), /leaves the fixture directory/)
  t.throws(() => guideBlocks('```ts file=/etc/x.ts\nx\n```\n'), /leaves the fixture directory/)
  t.throws(() => guideBlocks('```ts file=a/../../x.ts\nx\n```\n'), /leaves the fixture directory/)
  t.throws(() => guideBlocks('```ts file=a.ts\nx\n```\n\n```ts file=./a.ts\ny\n```\n'), /two blocks for file=a\.ts/)
  t.same(readdirSync(dest), [], 'nothing was written by the failures before writing started')
})

t.test('the seed 000, 003 and 004 guides carry a valid config and their policies', async (t) => {
  const expected: Record<string, string[]> = {
    'migrate-dnsmasq-php-pxelinux.md': ['bootpolicy.json', 'policies/10-per-mac.ts', 'policies/20-per-mac-pxelinux.ts'],
    'migrate-isc-dhcpd-arch.md': ['bootpolicy.json', 'policies/30-reserved-hosts.ts'],
    'migrate-mojolicious-pam-iscsi.md': ['bootpolicy.json', 'plugins/auth-pam.json', 'plugins/ldap.json', 'policies/50-fedora-disk.ts'],
  }
  for (const [guide, files] of Object.entries(expected)) {
    const blocks = guideBlocks(readFileSync(join(guides, guide), 'utf8'))
    t.same(
      blocks.map((b) => b.file),
      files,
      `${guide}: its marked blocks`,
    )
    const config = JSON.parse(blocks.find((b) => b.file === 'bootpolicy.json')!.text) as Record<string, unknown>
    t.same(configProblems(config), [], `${guide}: the config passes the schema`)
  }
})

t.test("the seed 004 guide's policy: only a sane reserved name reaches the kernel line", async (t) => {
  const dest = tmp(t)
  writeGuideFixture(join(guides, 'migrate-isc-dhcpd-arch.md'), dest)
  const efi = { buildarch: 'x86_64', platform: 'efi' }
  writeFileSync(
    join(dest, 'policies', '30-reserved-hosts.test.ts'),
    `export default ${JSON.stringify([
      {
        name: 'reserved UEFI host',
        request: { ...efi, hostname: 'efibox', ip: '192.168.2.55' },
        expect: { kind: 'boot', kernel: '/files/vmlinuz', args: ['console=ttyS0,115200n8', 'quiet', 'host=efibox', 'ip=192.168.2.55::::efibox'] },
      },
      { name: 'no address reported: no ip=', request: { ...efi, hostname: 'efibox' }, expect: { kind: 'boot', args: ['console=ttyS0,115200n8', 'quiet', 'host=efibox'] } },
      { name: 'no name (no reservation)', request: { ...efi, ip: '192.168.2.201' }, expect: null },
      { name: 'a name with a space', request: { ...efi, hostname: 'a b' }, expect: null },
      { name: 'a name with a quote', request: { ...efi, hostname: 'x"init=/bin/sh' }, expect: null },
      { name: 'an upper-case name', request: { ...efi, hostname: 'EFIBOX' }, expect: null },
      { name: 'a 64-character name', request: { ...efi, hostname: 'a'.repeat(64) }, expect: null },
    ])}\n`,
  )
  const helpers = fileURLToPath(new URL('../../plugins/pxelinux-cfg/policy-helpers.ts', import.meta.url))
  const results = await runPolicyTests(join(dest, 'policies'), { timeoutMs: 1000, memoryMb: 32 }, defaultImportables([['bootpolicy/plugins/pxelinux-cfg', helpers]]))
  t.equal(results.length, 7)
  for (const r of results) t.equal(r.status, 'PASS', `${r.name}${r.message ? ` — ${r.message}` : ''}`)
})

const REPO = join(import.meta.dirname, '..', '..')
const GUIDES = {
  'migrate-sysresccd-proxydhcp.md': { subs: { '172.16.0.2': '10.0.0.1' }, policy: 'policies/sysresccd/20-rescue-menu.ts' },
  'migrate-smartos-pfsense.md': { subs: { '10.1.1.7': '10.0.0.1', '$5$<salt>$<hash>': '$5$abc$def' }, policy: 'policies/smartos/20-smartos-menu.ts' },
}

t.test('marked blocks only, in order; unmarked blocks are prose', async (t) => {
  const md = ['# x', '```json', '{"a":1}', '```', '```json file=a.json', '{"b":2}', '```', '~~~ts file=p/x.ts', 'export default 1', '~~~', ''].join('\n')
  t.same(guideBlocks(md), [
    { file: 'a.json', lang: 'json', text: '{"b":2}\n' },
    { file: 'p/x.ts', lang: 'ts', text: 'export default 1\n' },
  ])
})

t.test('hostile or ambiguous file names are refused', async (t) => {
  for (const name of ['../x.json', '/etc/passwd', 'a/../../x', '..']) {
    t.throws(() => guideBlocks(`\`\`\`json file=${name}\n{}\n\`\`\`\n`), /leaves the fixture directory/, name)
  }
  t.throws(() => guideBlocks('```json file=a.json\n{}\n```\n```json file=./a.json\n{}\n```\n'), /two blocks for file=a.json/)
})

t.test('a substitution that matches nothing fails: the guide changed under the test', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'guide-fixture-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const guide = join(REPO, 'docs', 'guides', 'migrate-sysresccd-proxydhcp.md')
  t.throws(() => writeGuideFixture(guide, dir, { '192.0.2.99': 'x' }), /substitutions not found in any file= block: "192\.0\.2\.99"/)
  t.throws(() => writeGuideFixture(guide, dir, { '': 'x' }), /empty substitution/)
  const readme = join(REPO, 'README.md')
  t.throws(() => writeGuideFixture(readme, dir), /no fenced block marked file=/)
})

for (const [name, { subs, policy }] of Object.entries(GUIDES)) {
  t.test(`${name}: config valid, policy is the shipped one`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'guide-fixture-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const written = writeGuideFixture(join(REPO, 'docs', 'guides', name), dir, subs)
    t.same(Object.keys(written).sort(), ['bootpolicy.json', policy].sort())
    const config = JSON.parse(written['bootpolicy.json']!) as Record<string, unknown>
    t.same(configProblems(config), [], "the guide's config passes validation")
    t.equal(readFileSync(join(dir, policy), 'utf8'), readFileSync(join(REPO, policy), 'utf8'), `the guide prints ${policy} as shipped`)
    t.notMatch(written['bootpolicy.json'], /10\.1\.1\.7|172\.16\.0\.2|<salt>/, 'every example value was replaced')
  })
}
