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
