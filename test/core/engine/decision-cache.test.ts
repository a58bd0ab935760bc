/** The /boot memos (core/engine/decision-cache.ts): what is a key, what is never kept, bounds, expiry. */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DecisionCache, MAX_KEY_CHARS } from '../../../core/engine/decision-cache.js'
import { isSealed } from '../../../core/context/deep-freeze.js'
import type { BootResponse } from '../../../core/engine/engine.js'
import type { BuiltContext } from '../../../core/context/build-context.js'
import type { Decision } from '../../../core/decision/types.js'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const rev = { policies: 'p1', plugins: '' }
const flags = { withCredentials: false }
const response = (script: string) => ({ statusCode: 200, script, record: {} }) as unknown as BootResponse
const built = () => ({ context: { arch: 'unknown' }, credentials: undefined, dropped: [] }) as unknown as BuiltContext

t.test('response keys include both revisions, the client address and the query', async (t) => {
  const c = new DecisionCache({ size: 100, ttlMs: 0, wholeResponses: true })
  const key = c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-01', flags)!
  c.keepResponse(key, response('a'))
  t.equal(c.response(c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-01', flags))?.script, 'a', 'same request: hit')
  for (const [what, other] of [
    ['policy revision', c.responseKey({ ...rev, policies: 'p2' }, '192.0.2.1', 'mac=52-54-00-00-00-01', flags)],
    ['plugin revision', c.responseKey({ ...rev, plugins: 'x' }, '192.0.2.1', 'mac=52-54-00-00-00-01', flags)],
    ['address', c.responseKey(rev, '192.0.2.2', 'mac=52-54-00-00-00-01', flags)],
    ['query', c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-02', flags)],
    // A newline in a field cannot make two different requests one key: addresses hold none, and the query is last.
    ['address/query boundary', c.responseKey(rev, '192.0.2.1\nmac=52-54-00-00-00-01', '', flags)],
  ] as const)
    t.equal(c.response(other), undefined, `another ${what}: miss`)
})

t.test('credentials are never a key: no response, no context kept; dry runs and long queries neither', async (t) => {
  const c = new DecisionCache({ size: 100, ttlMs: 0, wholeResponses: true })
  t.equal(c.responseKey(rev, '192.0.2.1', 'username=a&password=b', { withCredentials: true }), undefined)
  t.equal(c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-01', { withCredentials: false, dryRun: true }), undefined)
  t.equal(c.responseKey(rev, '192.0.2.1', `x=${'a'.repeat(MAX_KEY_CHARS)}`, flags), undefined, 'a query longer than MAX_KEY_CHARS')
  const contexts = new DecisionCache({ size: 100, ttlMs: 0, wholeResponses: false })
  let builds = 0
  for (let i = 0; i < 3; i++)
    contexts.context('192.0.2.1', 'username=a&password=b', true, () => {
      builds++
      return built()
    })
  t.equal(builds, 3, 'a context built from credentials is built every time')
  t.equal(contexts.sizes.contexts, 0)
  for (let i = 0; i < 3; i++)
    contexts.context('192.0.2.1', 'mac=52-54-00-00-00-01', false, () => {
      builds++
      return built()
    })
  t.equal(builds, 4, 'one without is built once')
})

t.test('through the engine: a password in any spelling leaves no entry behind', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config())
  t.teardown(() => bp.close())
  for (const q of ['password=s3cret', '%70assword=s3cret', 'password_hex=73-33', 'mac=52-54-00-00-00-01&%75sername=a', `x=1&${'p=2&'.repeat(300)}password=s3cret`]) {
    for (const id of ['r1', 'r2']) t.match((await bp.engine.handle({ query: q, remoteAddress: '192.0.2.1', requestId: id })).script, /^#!ipxe\n/)
    t.same(bp.engine.cache.sizes, { responses: 0, contexts: 0, bodies: 0 }, `${q.slice(0, 40)}: nothing kept`)
  }
  await bp.engine.handle({ query: 'mac=52-54-00-00-00-01', remoteAddress: '192.0.2.1', requestId: 'r3' })
  t.equal(bp.engine.cache.sizes.responses, 1, 'a request without credentials is kept (the memo is on)')
})

t.test('every memo is bounded by its size, whatever the traffic', async (t) => {
  const responses = new DecisionCache({ size: 50, ttlMs: 0, wholeResponses: true })
  const contexts = new DecisionCache({ size: 50, ttlMs: 0, wholeResponses: false })
  const menu = (n: number): Decision => ({ kind: 'again', params: { n: String(n) } })
  for (let i = 0; i < 5000; i++) {
    const q = `mac=52-54-00-00-${(i >> 8).toString(16)}-${(i & 255).toString(16)}`
    responses.keepResponse(responses.responseKey(rev, '192.0.2.1', q, flags), response(q))
    contexts.context('192.0.2.1', q, false, built)
    contexts.body(menu(i), 'policy', `run-${i}`, () => q)
  }
  t.equal(responses.sizes.responses, 50)
  t.equal(contexts.sizes.contexts, 50)
  t.equal(contexts.sizes.bodies, 50)
  const off = new DecisionCache({ size: 0, ttlMs: 0, wholeResponses: true })
  t.equal(off.responseKey(rev, '192.0.2.1', 'mac=1', flags), undefined, 'size 0: nothing is kept')
  let renders = 0
  off.body({ kind: 'exit' }, 'default', 'k', () => String(renders++))
  off.body({ kind: 'exit' }, 'default', 'k', () => String(renders++))
  t.equal(renders, 2)
})

t.test('entries expire after ttlMs', async (t) => {
  const c = new DecisionCache({ size: 10, ttlMs: 300, wholeResponses: true })
  const key = c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-01', flags)
  c.keepResponse(key, response('a'))
  t.ok(c.response(key), 'fresh')
  await new Promise((r) => setTimeout(r, 700))
  t.equal(c.response(key), undefined, 'gone after the ttl')
})

t.test('bodies: context-free ones shared by decision object, others by run key, prepare-replaced never kept', async (t) => {
  const c = new DecisionCache({ size: 10, ttlMs: 0, wholeResponses: true })
  let renders = 0
  const render = () => `body ${renders++}`
  const exit: Decision = { kind: 'exit' }
  t.equal(c.body(exit, 'default', 'ctx-a', render), 'body 0')
  t.equal(c.body(exit, 'default', 'ctx-b', render), 'body 0', 'another machine, same decision object: the same body')
  t.equal(c.body({ kind: 'exit' }, 'default', 'ctx-a', render), 'body 1', 'an equal but other object is rendered')
  const again: Decision = { kind: 'again', params: { step: '2' } }
  c.body(again, 'policy', 'ctx-a', render)
  t.equal(c.body(again, 'policy', 'ctx-b', render), 'body 3', 'an `again` body depends on the context: rendered per context')
  t.equal(c.body(again, 'policy', 'ctx-a', render), 'body 2', '…and kept per context')
  const menuWithLogin: Decision = { kind: 'menu', items: [{ id: 'a', text: 'A', action: { kind: 'login' } }] }
  c.body(menuWithLogin, 'policy', 'ctx-c', render)
  t.equal(c.body(menuWithLogin, 'policy', 'ctx-d', render), 'body 5', 'a menu holding a login depends on the context')
  const replaced: Decision = { kind: 'sanboot', uri: 'iscsi:10.0.0.1:::1:iqn.x:y' }
  t.equal(c.body(replaced, undefined, 'ctx-a', render), 'body 6')
  t.equal(c.body(replaced, undefined, 'ctx-a', render), 'body 7', 'a decision prepare replaced is rendered every time')
  const tpl = { kind: 'template', name: 'x' } as unknown as Decision
  c.body(tpl, 'policy', 'ctx-a', render)
  t.equal(c.body(tpl, 'policy', 'ctx-a', render), 'body 9', 'templates are rendered every time')
})

t.test('a new policy revision invalidates responses and bodies', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit', message: 'one' })` })
  t.teardown(() => dir.remove())
  // A generous time limit: a first call on a new revision builds its isolate, slow on a busy machine.
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: false, timeoutMs: 2000 } }))
  t.teardown(() => bp.close())
  const ask = async (id: string) => await bp.engine.handle({ query: 'mac=52-54-00-00-00-01', remoteAddress: '192.0.2.1', requestId: id })
  t.match((await ask('a1')).script, /echo one/)
  t.equal((await ask('a2')).record.cached, true)
  writeFileSync(join(dir.policiesDir, 'p.ts'), `export default () => ({ kind: 'exit', message: 'two' })`)
  await bp.policies.load()
  const after = await ask('a3')
  t.equal(after.record.cached, false, 'a new revision is a new key')
  t.match(after.script, /echo two/, after.script)
})

t.test('a kept response is sealed at its first hit, not when kept (its traces are logged once per hit after that)', async (t) => {
  const c = new DecisionCache({ size: 10, ttlMs: 0, wholeResponses: true })
  const policies = [{ policy: '10-a.ts', outcome: 'passed', us: 3 }]
  const plugins: unknown[] = []
  const kept = { statusCode: 200, script: 's', record: { policies, plugins } } as unknown as BootResponse
  const key = c.responseKey(rev, '192.0.2.1', 'mac=52-54-00-00-00-01', flags)!
  c.keepResponse(key, kept)
  t.notOk(Object.isFrozen(policies), 'kept, not yet read: not frozen')
  t.equal(c.response(key), kept)
  t.ok(isSealed(policies) && isSealed(policies[0]!) && isSealed(plugins), 'first hit: sealed throughout')
  t.equal(c.response(key), kept, 'later hits: the same response')
})
