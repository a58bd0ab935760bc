import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

t.test('template decisions render with checked values', async (t) => {
  const dir = tempPolicies({
    'p.ts': `import { template } from 'bootpolicy/policy'\nexport default (ctx: any) => template('hello', { who: ctx.params.who ?? 'world' })`,
  })
  t.teardown(() => dir.remove())
  writeFileSync(join(dir.dir, 'templates', 'hello.ipxe'), '#!ipxe\necho Hello <%= it.vars.who %> on <%= it.text(it.ctx.serial) %>\nchain /next?w=<%= it.url(it.vars.who) %>\n')
  const bp = await build(dir.config())
  t.teardown(() => bp.close())
  const ok = await bp.app.inject('/boot?who=alice&serial=A%20%26B')
  t.equal(ok.body.replace(/\nset bp-req \w+/, ''), '#!ipxe\necho Hello alice on A ?B\nchain /next?w=alice\n')
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
})
