import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const withoutRequestId = (body: string): string => body.replace(/\nset bp-req \w+/, '')

t.test('template decisions render with checked values', async (t) => {
  const dir = tempPolicies({
    'p.ts': `import { template } from 'bootpolicy/policy'\nexport default (ctx: any) => template('hello', { who: ctx.params.who ?? 'world' })`,
  })
  t.teardown(() => dir.remove())
  writeFileSync(join(dir.dir, 'templates', 'hello.ipxe'), '#!ipxe\necho Hello {{ vars.who }} on {{ ctx.serial | text }} ({{ requestId }})\nchain /next?w={{ vars.who | url }}\n')
  const bp = await build(dir.config())
  t.teardown(() => bp.close())
  const ok = await bp.app.inject('/boot?who=alice&serial=A%20%26B')
  // `A &B` is display text with a `&`: shown exactly, through a hex setting like in decisions.
  t.equal(withoutRequestId(ok.body), '#!ipxe\nset bpv0:hex 41:20:26:42\necho Hello alice on ${bpv0:string} (${bp-req})\nchain /next?w=alice\n')
  const hostile = await bp.app.inject('/boot?who=x%20%7C%7C%20shell')
  t.match(hostile.body, /BP_ERR_RENDER_UNSAFE_VALUE/, 'an unsafe value is refused, the client gets the failsafe')
  t.notMatch(hostile.body, /\|\| shell/)
})

t.test('an edited template is served without a restart', async (t) => {
  const dir = tempPolicies({ 'p.ts': `import { template } from 'bootpolicy/policy'\nexport default () => template('hi')` })
  t.teardown(() => dir.remove())
  writeFileSync(join(dir.dir, 'templates', 'hi.ipxe'), '#!ipxe\necho v1\n')
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: true } }))
  t.teardown(() => bp.close())
  const line = async () => (await bp.app.inject('/boot')).body.split('\n').find((l) => l.startsWith('echo'))
  t.equal(await line(), 'echo v1')
  writeFileSync(join(dir.dir, 'templates', 'hi.ipxe'), '#!ipxe\necho v2\n')
  const end = Date.now() + 3000
  while (Date.now() < end && (await line()) !== 'echo v2') await new Promise((r) => setTimeout(r, 25))
  t.equal(await line(), 'echo v2')
  // A broken edit is reported with file:line; the template is then gone, not half-loaded.
  writeFileSync(join(dir.dir, 'templates', 'hi.ipxe'), '#!ipxe\necho {{ vars.x \n')
  const end2 = Date.now() + 3000
  while (Date.now() < end2 && (await bp.app.inject('/healthz')).json().status !== 'degraded') await new Promise((r) => setTimeout(r, 25))
  const problems = (await bp.app.inject('/healthz')).json().problems as { template?: string; message: string }[]
  t.match(problems.find((p) => p.template)?.message, /hi\.ipxe:2 is invalid: a \{\{ tag is not closed/)
  t.match((await bp.app.inject('/boot')).body, /BP_ERR_RENDER_TEMPLATE/, 'the broken template is not served')
})

t.test('the example in docs/reference/decisions.md renders as documented', async (t) => {
  const page = readFileSync(new URL('../../../docs/reference/decisions.md', import.meta.url), 'utf8')
  const section = page.slice(page.indexOf('With `templates/install.ipxe`:'))
  const [templateText, expected] = [...section.matchAll(/```\n([\s\S]*?)```/g)].slice(0, 2).map((m) => m[1]!)
  const dir = tempPolicies({
    'p.ts': `import { template } from 'bootpolicy/policy'\nexport default () => template('install', { title: 'Install \${x} #1 -- now', base: 'http://10.0.0.1/d', host: 'lab-1' })`,
  })
  t.teardown(() => dir.remove())
  writeFileSync(join(dir.dir, 'templates', 'install.ipxe'), templateText!)
  const bp = await build(dir.config())
  t.teardown(() => bp.close())
  const res = await bp.app.inject(`/boot?serial=${encodeURIComponent('AB 12&x(y)')}`)
  t.equal(res.body.replace(/^set bp-req \w+$/m, 'set bp-req a1b2c3d4e5'), expected)
})
