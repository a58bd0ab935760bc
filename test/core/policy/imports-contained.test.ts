/**
 * Policy imports stay inside the policies directory: real esbuild bundling over real symlinks.
 * A secret outside the directory must never end up in a compiled bundle (the bundle's strings are
 * served to clients by the policy), whatever path, link or loader the import uses.
 */
import t, { type Test } from 'tap'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compilePolicy } from '../../../core/policy/compile-policy.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const SECRET = 'TOPSECRET-7f3a'

/** A policies directory beside an `outside` directory holding secrets in every importable form. */
function fixture(t: Test): { root: string; outside: string; write: (name: string, src: string) => string } {
  const base = mkdtempSync(join(tmpdir(), 'bp-imports-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'policies')
  const outside = join(base, 'outside')
  mkdirSync(root)
  mkdirSync(outside)
  writeFileSync(join(outside, 'secret.txt'), SECRET)
  writeFileSync(join(outside, 'secret.json'), JSON.stringify({ s: SECRET }))
  writeFileSync(join(outside, 'secret.ts'), `export const s = '${SECRET}'`)
  writeFileSync(join(outside, 'evil.ts'), `export default () => ({ kind: 'exit', message: '${SECRET}' })`)
  const write = (name: string, src: string): string => {
    writeFileSync(join(root, name), src)
    return join(root, name)
  }
  return { root, outside, write }
}

async function refused(t: Test, file: string, root: string, pattern: RegExp): Promise<void> {
  try {
    const out = await compilePolicy(file, root)
    t.fail(`compiled; the bundle ${out.code.includes(SECRET) ? 'HOLDS' : 'does not hold'} the secret`)
  } catch (err) {
    t.ok(isBootpolicyError(err, 'BP_ERR_POLICY_COMPILE'), 'BP_ERR_POLICY_COMPILE')
    t.match((err as Error).message, pattern)
    t.notMatch((err as Error).message, SECRET, 'the message does not leak the secret')
  }
}

const useIt = (expr: string): string => `export default () => ({ kind: 'exit', message: String(${expr}) })`

t.test('hazard: a symlinked file pointing outside the policies directory is refused', async (t) => {
  const f = fixture(t)
  symlinkSync(join(f.outside, 'secret.ts'), join(f.root, '_link.ts'))
  symlinkSync(join(f.outside, 'secret.json'), join(f.root, 'link.json'))
  const p1 = f.write('p1.ts', `import { s } from './_link.ts'\n${useIt('s')}`)
  await refused(t, p1, f.root, /"\.\/_link\.ts".*outside the policies directory/)
  const p2 = f.write('p2.ts', `import j from './link.json'\n${useIt('j.s')}`)
  await refused(t, p2, f.root, /"\.\/link\.json".*outside the policies directory/)
  // Extension-less, resolved by esbuild itself.
  const p3 = f.write('p3.ts', `import { s } from './_link'\n${useIt('s')}`)
  await refused(t, p3, f.root, /"\.\/_link".*outside the policies directory/)
})

t.test('hazard: a symlinked directory pointing outside the policies directory is refused', async (t) => {
  const f = fixture(t)
  symlinkSync(f.outside, join(f.root, 'shared'))
  const p = f.write('p.ts', `import { s } from './shared/secret.ts'\n${useIt('s')}`)
  await refused(t, p, f.root, /"\.\/shared\/secret\.ts".*outside the policies directory/)
  const q = f.write('q.ts', `import j from './shared/secret.json'\n${useIt('j.s')}`)
  await refused(t, q, f.root, /"\.\/shared\/secret\.json".*outside the policies directory/)
})

t.test('hazard: a policy file that is itself a symlink out of the directory is refused', async (t) => {
  const f = fixture(t)
  symlinkSync(join(f.outside, 'evil.ts'), join(f.root, '10-evil.ts'))
  await refused(t, join(f.root, '10-evil.ts'), f.root, /10-evil\.ts.*outside the policies directory/)
})

t.test('hazard: text, file, binary and data-url loaders cannot read files', async (t) => {
  const f = fixture(t)
  // Inside the directory, so only the loader rule can stop them.
  writeFileSync(join(f.root, 'notes.txt'), SECRET)
  writeFileSync(join(f.root, 'blob.bin'), SECRET)
  writeFileSync(join(f.root, '_code.ts'), `export const s = '${SECRET}'`)
  const cases: [string, string, RegExp][] = [
    ['txt', `import s from './notes.txt'\n${useIt('s')}`, /"\.\/notes\.txt".*only \.ts, \.js, \.mts, \.mjs and \.json/],
    ['bin', `import s from './blob.bin'\n${useIt('s')}`, /"\.\/blob\.bin".*only \.ts, \.js, \.mts, \.mjs and \.json/],
    ['text attribute', `import s from './_code.ts' with { type: 'text' }\n${useIt('s')}`, /"\.\/_code\.ts".*import attributes/],
    ['bytes attribute', `import s from './_code.ts' with { type: 'bytes' }\n${useIt('s')}`, /"\.\/_code\.ts".*import attributes/],
    ['require of text', `const s = require('./notes.txt')\n${useIt('s')}`, /"\.\/notes\.txt"/],
  ]
  for (const [label, src, pattern] of cases) {
    await t.test(label, async (t) => refused(t, f.write(`p-${label.replace(/\W/g, '-')}.ts`, src), f.root, pattern))
  }
})

t.test('imports inside the directory still work: code, JSON, and links that stay inside', async (t) => {
  const f = fixture(t)
  mkdirSync(join(f.root, 'lib'))
  writeFileSync(join(f.root, 'lib', 'names.ts'), `export const who = 'lab'`)
  writeFileSync(join(f.root, 'lib', 'data.json'), JSON.stringify({ n: 3 }))
  writeFileSync(join(f.root, 'lib', 'more.mjs'), `export const more = 'm'`)
  symlinkSync(join(f.root, 'lib'), join(f.root, 'lib-link'))
  const p = f.write(
    'p.ts',
    `import { who } from './lib/names'\nimport d from './lib-link/data.json' with { type: 'json' }\nimport { more } from './lib/more.mjs'\nimport { exit } from 'bootpolicy/policy'\nexport default () => exit(who + d.n + more)`,
  )
  const out = await compilePolicy(p, f.root)
  t.match(out.code, /"lab"/)
  t.match(out.code, /more/)
})

t.test('hazard: a served policy cannot carry a secret read through a symlink', async (t) => {
  const dir = tempPolicies({})
  t.teardown(() => dir.remove())
  const outside = join(dir.dir, 'outside')
  mkdirSync(outside)
  writeFileSync(join(outside, 'secret.json'), JSON.stringify({ s: SECRET }))
  symlinkSync(outside, join(dir.policiesDir, 'data'))
  dir.write('p.ts', `import j from './data/secret.json'\nexport default () => ({ kind: 'exit', message: j.s })`)
  const bp = await build(dir.config())
  t.teardown(() => bp.close())
  const res = await bp.app.inject('/boot')
  t.notMatch(res.body, SECRET, 'the secret is not served')
  const health = (await bp.app.inject('/healthz')).json()
  t.equal(health.problems[0]?.code, 'BP_ERR_POLICY_COMPILE', '/healthz names the refused import')
  t.match(health.problems[0]?.message, /"\.\/data\/secret\.json"/)
})
