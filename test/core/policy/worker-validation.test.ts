/**
 * Decisions are validated in the policy worker (split-validation.ts), so that the main thread only
 * parses them; plugin kinds, whose validators live on the main thread, are still checked there.
 * Real workers, real policies compiled from a temporary directory, the real runner.
 */
import t, { type Test } from 'tap'
import { buildContext } from '../../../core/context/build-context.js'
import type { KindValidator } from '../../../core/decision/validate-decision.js'
import { PolicyRunner } from '../../../core/engine/policy-runner.js'
import { PolicySet } from '../../../core/policy/policy-set.js'
import { WorkerPool } from '../../../core/policy/worker-pool.js'
import { decodeChain } from '../../../core/policy/worker-protocol.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const limits = { timeoutMs: 1000, memoryMb: 32 }
const ctx = (mac: string) => buildContext({ query: new Map([['mac', mac]]), remoteAddress: '127.0.0.1' }).context

async function setup(t: Test, files: Record<string, string>, onError: 'failsafe' | 'next' = 'failsafe', kinds = new Map<string, KindValidator>()) {
  const dir = tempPolicies(files)
  t.teardown(() => dir.remove())
  const pool = new WorkerPool({ size: 1, limits, onError })
  t.teardown(() => pool.close())
  const policies = new PolicySet(dir.policiesDir, limits, undefined, {}, pool)
  await policies.load()
  t.same(policies.problems ?? [], [], 'the policies load')
  const runner = new PolicyRunner(policies, pool, kinds, { onError, cacheSize: 0, cacheTtlMs: 0 })
  return { pool, runner }
}

t.test('hazard: the main thread validates every decision itself (the worker refuses a bad one before it crosses)', async (t) => {
  const { pool, runner } = await setup(t, { 'p.ts': `export default () => ({ kind: 'exit', message: 'x', bogus: 1 })` })
  const { meta, decisionJson } = decodeChain(await pool.run(JSON.stringify(ctx('52:54:00:00:00:01'))))
  t.equal(decisionJson, undefined, 'no decision text reaches the main thread')
  t.match(meta.steps, [{ p: 'p.ts', o: 'error', code: 'BP_ERR_POLICY_BAD_DECISION', params: { details: /\$\.bogus: unknown field/ } }], 'the worker reports why')
  const outcome = (await runner.run(ctx('52:54:00:00:00:01'))).outcome
  t.equal(outcome.decision, undefined)
  t.match(outcome.error, { code: 'BP_ERR_POLICY_BAD_DECISION', message: /\$\.bogus: unknown field/ }, "the runner fails safe with the worker's problems")
})

t.test('hazard: with onError next, a bad decision costs a second thread hop (the worker now goes on itself)', async (t) => {
  const { pool, runner } = await setup(
    t,
    {
      '10-bad.ts': `export default () => ({ kind: 'menu', items: [] })`,
      '20-good.ts': `export default () => ({ kind: 'exit', message: 'good' })`,
    },
    'next',
  )
  const { meta, decisionJson } = decodeChain(await pool.run(JSON.stringify(ctx('52:54:00:00:00:02'))))
  t.equal(meta.decided, 1, 'one hop: the next policy decided in the same worker run')
  t.same(JSON.parse(decisionJson!), { kind: 'exit', message: 'good' })
  const outcome = (await runner.run(ctx('52:54:00:00:00:02'))).outcome
  t.match(outcome, { decision: { kind: 'exit', message: 'good' }, decidedBy: 'policy:20-good.ts' })
  t.match(outcome.steps, [
    { policy: '10-bad.ts', outcome: 'error', code: 'BP_ERR_POLICY_BAD_DECISION' },
    { policy: '20-good.ts', outcome: 'decided' },
  ])
})

t.test('plugin kinds are still validated on the main thread, at the paths the worker reports', async (t) => {
  const seen: string[] = []
  const kinds = new Map<string, KindValidator>([
    [
      'lab.disk',
      (d, path, problems) => {
        seen.push(path)
        if (typeof d.size !== 'number') problems.push(`${path}.size: expected a number`)
      },
    ],
  ])
  const menu = (action: string) => `export default (ctx: any) => ({ kind: 'menu', items: [
    { id: 'a', text: 'A', action: { kind: 'exit' } },
    { id: 'b', text: 'B', action: { kind: 'menu', items: [{ id: 'c', text: 'C', action: ${action} }] } },
  ] })`
  {
    const { pool, runner } = await setup(t, { 'p.ts': menu(`{ kind: 'lab.disk', size: ctx.mac ? 1 : 'x' }`) }, 'failsafe', kinds)
    t.same(decodeChain(await pool.run(JSON.stringify(ctx('52:54:00:00:00:03')))).meta.plugins, ['$.items[1].action.items[0].action'], 'the worker reports where the plugin part is')
    const good = (await runner.run(ctx('52:54:00:00:00:03'))).outcome
    t.match(good.decision, { kind: 'menu' }, 'a valid plugin part passes')
    t.same(seen, ['$.items[1].action.items[0].action'], 'the plugin validator ran on that part')
    const bad = (await runner.run(buildContext({ query: new Map(), remoteAddress: '127.0.0.1' }).context)).outcome
    t.equal(bad.decision, undefined)
    t.match(bad.error, { code: 'BP_ERR_POLICY_BAD_DECISION', message: /\$\.items\[1\]\.action\.items\[0\]\.action\.size: expected a number/ }, 'an invalid plugin part is refused')
  }
  {
    const { runner } = await setup(t, { 'p.ts': menu(`{ kind: 'other.kind' }`) }, 'failsafe', kinds)
    const outcome = (await runner.run(ctx('52:54:00:00:00:04'))).outcome
    t.match(outcome.error, { code: 'BP_ERR_POLICY_BAD_DECISION', message: /unknown decision kind "other\.kind"/ }, 'a kind no plugin registered is refused')
  }
  {
    const { runner } = await setup(t, { 'p.ts': `export default () => ({ kind: 'nodot' })` }, 'failsafe', new Map([['nodot', () => undefined]]))
    const outcome = (await runner.run(ctx('52:54:00:00:00:05'))).outcome
    t.match(outcome.error, { code: 'BP_ERR_POLICY_BAD_DECISION', message: /unknown decision kind "nodot"/ }, 'a kind without a dot is never a plugin kind')
  }
})

t.test('a context that is not frozen is serialized again on every run (its JSON is cached only when frozen)', async (t) => {
  const { runner } = await setup(t, { 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: String(ctx.mac) })` })
  const frozen = ctx('52:54:00:00:00:06')
  t.match((await runner.run(frozen)).outcome.decision, { message: '52:54:00:00:00:06' })
  t.match((await runner.run(frozen)).outcome.decision, { message: '52:54:00:00:00:06' }, 'a frozen context, twice')
  const open: Record<string, unknown> = { ...frozen }
  t.match((await runner.run(open as never)).outcome.decision, { message: '52:54:00:00:00:06' })
  open.mac = '52:54:00:00:00:07'
  t.match((await runner.run(open as never)).outcome.decision, { message: '52:54:00:00:00:07' }, 'a changed open context is sent as it is now')
})
