/** `bootpolicy test` cases can give ctx.intent (completed with test values), and a bad one is an ERROR. */
import t from 'tap'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const LIMITS = { timeoutMs: 1000, memoryMb: 32 }

t.test('cases with and without an intent', async (t) => {
  const dir = tempPolicies({
    'reinstall.ts': `import { boot, exit, INTENT_TOKEN, policy } from 'bootpolicy/policy'
export default policy((ctx) => {
  if (ctx.intent?.profile === 'debian-12') return boot('/files/linux', { args: ['auto=true', 'bp.token=' + INTENT_TOKEN, 'bp.state=' + ctx.intent.state, 'bp.by=' + ctx.intent.machine.by] })
  return exit()
})`,
    'reinstall.test.ts': `import { cases } from 'bootpolicy/policy'
export default cases([
  { name: 'no intent: local disk', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'exit' } },
  { name: 'armed', request: { mac: '52:54:00:00:00:01' }, intent: { profile: 'debian-12' }, expect: { kind: 'boot', args: ['auto=true', 'bp.token=@bp-intent-token@', 'bp.state=armed', 'bp.by=mac'] } },
  { name: 'after a failure', request: {}, intent: { profile: 'debian-12', state: 'failed' }, expect: { kind: 'boot', args: ['auto=true', 'bp.token=@bp-intent-token@', 'bp.state=failed', 'bp.by=label'] } },
  { name: 'another profile', request: {}, intent: { profile: 'other' }, expect: { kind: 'exit' } },
  { name: 'bad intent', request: {}, intent: 'debian-12', expect: null },
  { name: 'bad state', request: {}, intent: { state: 'built' }, expect: null },
])`,
  })
  t.teardown(() => dir.remove())
  const results = await runPolicyTests(dir.policiesDir, LIMITS)
  t.same(
    results.map((r) => `${r.name}: ${r.status}`),
    ['no intent: local disk: PASS', 'armed: PASS', 'after a failure: PASS', 'another profile: PASS', 'bad intent: ERROR', 'bad state: ERROR'],
  )
  t.match(results.find((r) => r.name === 'bad state')!.message, /intent\.state is "armed" or "failed"/)
})
