import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build } from '../../../core/http/build-app.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

// A reload now includes the type check (seconds on a busy machine): wait generously.
async function until(check: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await sleep(25)
  }
  return false
}

t.test('hot reload: a changed policy is swapped in; a broken edit keeps the last good version', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit', message: 'v1' })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: true } }))
  t.teardown(() => bp.close())
  const message = async () => (await bp.app.inject('/boot')).body.split('\n')[2]
  t.equal(await message(), 'echo v1')

  dir.write('p.ts', `export default () => ({ kind: 'exit', message: 'v2' })`)
  t.ok(await until(async () => (await message()) === 'echo v2'), 'the edit is served')

  dir.write('p.ts', `export default () => ({ kind: 'exit', message: 'v3' ))`)
  t.ok(await until(async () => (await bp.app.inject('/healthz')).json().status === 'degraded'), '/healthz reports the broken edit')
  const health = (await bp.app.inject('/healthz')).json()
  t.equal(health.problems[0].code, 'BP_ERR_POLICY_COMPILE')
  t.match(health.problems[0].message, /p\.ts:1:/, 'with file:line')
  t.equal(await message(), 'echo v2', 'the last good version keeps serving')

  dir.write('p.ts', `export default () => ({ kind: 'exit', message: 'v4' })`)
  t.ok(await until(async () => (await message()) === 'echo v4'), 'the fix is served')
  t.equal((await bp.app.inject('/healthz')).json().status, 'ok')
})

t.test('editing a shared _helper.ts is a new revision of the policies that import it', async (t) => {
  const dir = tempPolicies({
    '_names.ts': `export const who = 'v1'`,
    'p.ts': `import { who } from './_names'\nexport default () => ({ kind: 'exit', message: who })`,
  })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: true } }))
  t.teardown(() => bp.close())
  const message = async () => (await bp.app.inject('/boot')).body.split('\n')[2]
  t.equal(await message(), 'echo v1')
  dir.write('_names.ts', `export const who = 'v2'`)
  t.ok(await until(async () => (await message()) === 'echo v2'), 'the helper edit is served')
})
