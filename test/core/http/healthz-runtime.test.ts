/**
 * Hazard: /healthz says `ok` while the server keeps failing at run time (workers replaced,
 * templates missing, plugin hooks failing), or any client can make it say `degraded` (and a
 * `?strict` load balancer pull the server) by sending a value a template refuses.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const POLICY = `import { template, type BootContext } from 'bootpolicy/policy'
export default (ctx: BootContext) => ctx.params.t === 'missing' ? template('nope') : template('arg', { v: ctx.params.v ?? 'x' })
`

// Child processes, type checks and reloads on a busy shared 2-core machine: minutes, not the 120 s default.
t.setTimeout(600_000)
t.test('hostile client values do not degrade /healthz; a missing template, a replaced worker and a failing plugin hook do', async (t) => {
  const dir = tempPolicies({ '10-p.ts': POLICY })
  t.teardown(() => dir.remove())
  writeFileSync(join(dir.dir, 'templates', 'arg.ipxe'), '#!ipxe\nchain {{ vars.v }}\n')
  const plugin = join(dir.dir, 'flaky.mjs')
  writeFileSync(
    plugin,
    `
    export default () => ({ name: 'flaky', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      enrich: async (ctx) => { if (ctx.params.fail === '1') throw new Error('directory down: secret-dn=cn=admin') ; return {} },
    } })`,
  )
  const bp = await build(dir.config({ plugins: [{ name: 'flaky', path: plugin }] }))
  t.teardown(() => bp.close())
  const health = async (): Promise<{ status: string; problems: Record<string, unknown>[] }> => (await bp.app.inject('/healthz')).json()
  t.equal((await health()).status, 'ok', 'healthy at start')

  for (let i = 0; i < 20; i++) {
    const res = await bp.app.inject(`/boot?v=${encodeURIComponent(`a${i} || shell`)}`)
    t.match(res.body, /BP_ERR_RENDER_UNSAFE_VALUE/, 'the hostile value is refused')
  }
  t.equal((await health()).status, 'ok', '20 hostile values later: still ok')

  await bp.app.inject('/boot?t=missing')
  await bp.app.inject('/boot?t=missing')
  let report = await health()
  t.equal(report.status, 'degraded')
  const tpl = report.problems.find((p) => p.kind === 'template')
  t.match(tpl, { template: 'nope', code: 'BP_ERR_RENDER_TEMPLATE', count: 2 }, 'the missing template, counted')
  t.equal((await bp.app.inject('/healthz?strict')).statusCode, 503)

  await bp.app.inject('/boot?fail=1')
  report = await health()
  const hook = report.problems.find((p) => p.kind === 'plugin')
  t.match(hook, { plugin: 'flaky', hook: 'enrich', code: 'BP_ERR_PLUGIN_HOOK' }, 'the failing plugin hook')
  t.notMatch(JSON.stringify(report), /secret-dn/, 'without the error text')

  bp.policyWorkers.hangForTest('hang-here')
  await bp.app.inject('/boot?x=hang-here')
  report = await health()
  t.match(
    report.problems.find((p) => p.kind === 'policy-worker'),
    { code: 'BPWRN004', reason: 'watchdog', policy: '10-p.ts' },
    'the replaced worker',
  )
})
