/**
 * Chain tests (cases.chain), plugin facts and principals in test cases, and --run filtering,
 * through the real runner and sandboxes. A chain test must agree with what /boot serves.
 */
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const LIMITS = { timeoutMs: 50, memoryMb: 32 }
const line = (r: { policy: string; name: string; status: string }) => `${r.policy}: ${r.name}: ${r.status}`

const CHAIN = {
  '10-lab.ts': `import { print, exit } from 'bootpolicy/policy'
export default (ctx: any) => { print('groups', ctx.plugins.ldap?.groups); return ctx.plugins.ldap?.groups?.includes('lab') ? exit('lab') : undefined }`,
  '20-admin.ts': `import { shell } from 'bootpolicy/policy'
export default (ctx: any) => (ctx.auth.principal?.groups.includes('admins') && ctx.auth.principal.source === 'test' ? shell('admin ' + ctx.auth.username) : undefined)`,
  '30-broken.ts': `export default (ctx: any) => { if (ctx.params.boom) throw new Error('boom'); return undefined }`,
  '40-mac.ts': `import { chain } from 'bootpolicy/policy'
export default (ctx: any) => (ctx.mac ? chain('http://u:secret@h/x?token=1') : undefined)`,
}

t.test('a chain test names who decides across the whole chain, and the decision', async (t) => {
  const dir = tempPolicies({
    ...CHAIN,
    'chain.test.ts': `import { cases } from 'bootpolicy/policy'
export default cases.chain([
  { name: 'lab via ldap facts', request: { mac: '52:54:00:00:00:01' }, plugins: { ldap: { groups: ['lab'] } }, expect: { decidedBy: 'policy:10-lab.ts', decision: { kind: 'exit', message: 'lab' } } },
  { name: 'admin principal', request: {}, principal: { name: 'ann', groups: ['admins'] }, expect: { decidedBy: 'policy:20-admin.ts', decision: { message: 'admin ann' } } },
  { name: 'falls through to mac', request: { mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'policy:40-mac.ts' } },
  { name: 'nobody decides', request: {}, expect: { decidedBy: 'default', decision: { kind: 'reboot' } } },
  { name: 'a throw is the failsafe', request: { boom: '1', mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'failsafe' } },
  { name: 'wrong on purpose', request: { mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'policy:10-lab.ts' } },
  { name: 'wrong decision', request: {}, expect: { decidedBy: 'default', decision: { kind: 'exit' } } },
  { name: 'no expectation', request: {}, expect: {} },
])`,
  })
  t.teardown(() => dir.remove())
  const results = await runPolicyTests(dir.policiesDir, LIMITS, undefined, undefined, { defaultDecision: { kind: 'reboot' }, onError: 'failsafe' })
  t.same(results.map(line), [
    'chain.test.ts: lab via ldap facts: PASS',
    'chain.test.ts: admin principal: PASS',
    'chain.test.ts: falls through to mac: PASS',
    'chain.test.ts: nobody decides: PASS',
    'chain.test.ts: a throw is the failsafe: PASS',
    'chain.test.ts: wrong on purpose: FAIL',
    'chain.test.ts: wrong decision: FAIL',
    'chain.test.ts: no expectation: ERROR',
  ])
  t.match(results[5]!.message, /expected decidedBy "policy:10-lab.ts", got "policy:40-mac.ts" \(10-lab.ts passed, 20-admin.ts passed, 30-broken.ts passed, 40-mac.ts decided\)/)
  t.match(results[6]!.message, /\$\.decision\.kind: expected "exit", got "reboot"/)
  t.same(results[0]!.prints, ['10-lab.ts: groups ["lab"]'], 'prints carry the policy name')

  // The same requests through the real /boot agree with the chain test.
  const bp = await build(dir.config({ default: { kind: 'reboot' } }), { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const decided = async (q: string) => (await bp.engine.handle({ query: q, remoteAddress: '192.0.2.1', requestId: 'x' })).record.decidedBy
  t.equal(await decided('mac=52:54:00:00:00:01'), 'policy:40-mac.ts')
  t.equal(await decided(''), 'default')
  t.equal(await decided('boom=1&mac=52:54:00:00:00:01'), 'failsafe')
})

t.test('onError next: a failing policy is skipped in a chain test, as on /boot', async (t) => {
  const dir = tempPolicies({
    ...CHAIN,
    'chain.test.ts': `import { cases } from 'bootpolicy/policy'
export default cases.chain([{ name: 'skip the throw', request: { boom: '1', mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'policy:40-mac.ts' } }])`,
  })
  t.teardown(() => dir.remove())
  const [r] = await runPolicyTests(dir.policiesDir, LIMITS, undefined, undefined, { onError: 'next' })
  t.equal(r!.status, 'PASS', r!.message ?? '')
})

t.test('hostile case values get a clear ERROR per case; the other cases still run', async (t) => {
  const dir = tempPolicies({
    'a.ts': `export default (ctx: any) => (ctx.auth.principal ? { kind: 'exit', message: ctx.auth.principal.source + ':' + ctx.auth.principal.groups.join(',') } : undefined)`,
    'a.test.ts': `export default [
      { name: 'full principal', request: {}, principal: { name: 'x', groups: ['g1', 'g2'], source: 'auth-pam' }, expect: { message: 'auth-pam:g1,g2' } },
      { name: 'name only', request: {}, principal: { name: 'x' }, expect: { message: 'test:' } },
      { name: 'number in request', request: { mac: 5 }, expect: null },
      { name: 'principal without name', request: {}, principal: { groups: [] }, expect: null },
      { name: 'groups not strings', request: {}, principal: { name: 'x', groups: [1] }, expect: null },
      { name: 'plugins not an object', request: {}, plugins: 'ldap', expect: null },
      { name: 'no expect', request: {} },
      'not a case',
    ]`,
  })
  t.teardown(() => dir.remove())
  const results = await runPolicyTests(dir.policiesDir, LIMITS)
  t.same(
    results.map((r) => `${r.name}: ${r.status}`),
    [
      'full principal: PASS',
      'name only: PASS',
      'number in request: ERROR',
      'principal without name: ERROR',
      'groups not strings: ERROR',
      'plugins not an object: ERROR',
      'no expect: ERROR',
      'case #8: ERROR',
    ],
  )
  t.match(results[2]!.message, /request must be an object of strings/)
  t.match(results[3]!.message, /principal\.name/)
  t.match(results[6]!.message, /expect is missing/)
})

t.test('--run keeps only cases whose "policy: case name" matches', async (t) => {
  const dir = tempPolicies({
    ...CHAIN,
    '40-mac.test.ts': `export default [{ name: 'mac chains', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'chain' } }, { name: 'no mac', request: {}, expect: null }]`,
    'chain.test.ts': `import { cases } from 'bootpolicy/policy'\nexport default cases.chain([{ name: 'mac chains too', request: { mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'policy:40-mac.ts' } }])`,
    'orphan.test.ts': `export default [{ name: 'x', request: {}, expect: null }]`,
  })
  t.teardown(() => dir.remove())
  const all = await runPolicyTests(dir.policiesDir, LIMITS)
  t.same(all.map(line), ['40-mac.ts: mac chains: PASS', '40-mac.ts: no mac: PASS', 'chain.test.ts: mac chains too: PASS', 'orphan.test.ts: (load): ERROR'])
  t.match(all[3]!.message, /no policy orphan\.ts beside it/)
  const some = await runPolicyTests(dir.policiesDir, LIMITS, undefined, undefined, { run: /mac chains/ })
  t.same(some.map(line), ['40-mac.ts: mac chains: PASS', 'chain.test.ts: mac chains too: PASS'])
  const byFile = await runPolicyTests(dir.policiesDir, LIMITS, undefined, undefined, { run: /^chain\.test\.ts: / })
  t.same(byFile.map(line), ['chain.test.ts: mac chains too: PASS'])
  t.same(await runPolicyTests(dir.policiesDir, LIMITS, undefined, undefined, { run: /nothing matches this/ }), [])
})
