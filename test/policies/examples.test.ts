/** The shipped example policies and their OPA-style tests cannot rot: every case must pass. */
import t from 'tap'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../core/config/load-config.js'
import { runPolicyTests } from '../../core/policy/policy-tests.js'
import { tempPolicies } from '../helpers/policy-dir.js'

t.test('every case of every example policy passes', async (t) => {
  const results = await runPolicyTests(join(PACKAGE_ROOT, 'policies'), { timeoutMs: 50, memoryMb: 32 })
  t.ok(results.length >= 10, `${results.length} cases`)
  for (const r of results) t.equal(r.status, 'PASS', `${r.policy}: ${r.name}${r.message ? ` — ${r.message}` : ''}`)
})

t.test('the runner reports FAIL and ERROR, so it can catch a broken policy', async (t) => {
  const dir = tempPolicies({
    'a.ts': `export default (ctx: any) => (ctx.mac ? { kind: 'exit' } : undefined)`,
    'a.test.ts': `export default [
      { name: 'right', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'exit' } },
      { name: 'wrong', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'chain' } },
      { name: 'wrong none', request: {}, expect: { kind: 'exit' } },
    ]`,
    'b.ts': `export default () => { throw new Error('boom') }`,
    'b.test.ts': `export default [{ name: 'errors', request: {}, expect: null }]`,
  })
  t.teardown(() => dir.remove())
  const results = await runPolicyTests(dir.policiesDir, { timeoutMs: 50, memoryMb: 32 })
  t.same(
    results.map((r) => `${r.policy}:${r.name}:${r.status}`),
    ['a.ts:right:PASS', 'a.ts:wrong:FAIL', 'a.ts:wrong none:FAIL', 'b.ts:errors:ERROR'],
  )
  t.match(results[1]!.message, /\$\.kind: expected "chain", got "exit"/)
})

t.test('the runner renders decisions: a value iPXE cannot take is an ERROR in the test, not at boot', async (t) => {
  const dir = tempPolicies({
    'a.ts': `export default () => ({ kind: 'boot', kernel: '/k', args: ['quiet splash'] })`,
    'a.test.ts': `export default [{ name: 'space in an argument', request: {}, expect: { kind: 'boot' } }]`,
  })
  t.teardown(() => dir.remove())
  const [r] = await runPolicyTests(dir.policiesDir, { timeoutMs: 50, memoryMb: 32 })
  t.equal(r!.status, 'ERROR')
  t.match(r!.message, /BP_ERR_RENDER_UNSAFE_VALUE|whitespace/)
})
