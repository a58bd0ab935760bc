/** typeCheckPolicies: the TypeScript compiler over a policy directory, against bootpolicy/policy and plugin helper types. */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { defaultImportables } from '../../../core/policy/compile-policy.js'
import { typeCheckPolicies } from '../../../core/policy/type-check.js'

const helpers = (names: string[]): [string, string][] => names.map((n) => [`bootpolicy/plugins/${n}`, join(PACKAGE_ROOT, 'plugins', n, 'policy-helpers.ts')])

function temp(files: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bp-tc-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

t.test('the shipped policies type-check clean, each directory in one program', async (t) => {
  for (const sub of ['', 'pxelinux', 'smartos', 'sysresccd', 'fedora-iscsi', 'fedora-login']) {
    const t0 = performance.now()
    const found = typeCheckPolicies(join(PACKAGE_ROOT, 'policies', sub), defaultImportables(helpers(['pxelinux-cfg', 'smartos', 'sysresccd', 'iscsi-cow'])))
    t.comment(`policies/${sub}: ${Math.round(performance.now() - t0)} ms`)
    t.same(found, [], `policies/${sub}`)
  }
})

t.test('hazard: esbuild strips types, so ctx.prodcut compiled; the type check reports file, line, col, code', async (t) => {
  const d = temp({
    'a.ts': `import type { BootContext, Decision } from 'bootpolicy/policy'\nexport default (ctx: BootContext): Decision | undefined =>\n  ctx.prodcut === 'x' ? { kind: 'exit' } : undefined\n`,
    'b.ts': `import { chain } from 'bootpolicy/policy'\nexport default () => chain(42)\n`,
    'b.test.ts': `import { cases } from 'bootpolicy/policy'\nexport default cases([{ name: 'n', request: { mac: 1 }, expect: null }])\n`,
  })
  t.teardown(d.remove)
  const found = typeCheckPolicies(d.dir, defaultImportables())
  t.match(found, [
    { file: 'a.ts', line: 3, col: 7, code: 'TS2551', message: /Property 'prodcut' does not exist on type 'BootContext'/ },
    { file: 'b.test.ts', line: 2, code: 'TS2322' },
    { file: 'b.ts', line: 2, col: 28, code: 'TS2345' },
  ])
  t.equal(found.length, 3)
})

t.test('a plugin helper import is typed by the plugin; without the plugin it is an unknown module', async (t) => {
  const d = temp({ 'p.ts': `import { pxelinuxChain } from 'bootpolicy/plugins/pxelinux-cfg'\nexport default () => pxelinuxChain({ default: 'x', entries: [] })\n` })
  t.teardown(d.remove)
  t.same(typeCheckPolicies(d.dir, defaultImportables(helpers(['pxelinux-cfg']))), [])
  t.match(typeCheckPolicies(d.dir, defaultImportables()), [{ file: 'p.ts', line: 1, code: 'TS2307' }])
})

t.test('policies run without Node: node: imports and process are type errors', async (t) => {
  const d = temp({ 'n.ts': `import { readFileSync } from 'node:fs'\nexport default () => (process.env.X ? readFileSync('/etc/shadow') : undefined)\n` })
  t.teardown(d.remove)
  const codes = typeCheckPolicies(d.dir, defaultImportables()).map((x) => x.code)
  t.ok(codes.includes('TS2307'), `cannot find node:fs (${codes.join(',')})`)
  t.ok(
    codes.some((c) => c === 'TS2580' || c === 'TS2591'),
    `cannot find name process (${codes.join(',')})`,
  )
})
