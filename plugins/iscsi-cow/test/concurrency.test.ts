/** Serialization: many logins of one user end in one target and one overlay; users run in parallel. */
import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { iscsiEnv, iscsiInq, iscsiUrl } from './helpers.js'

t.test('20 concurrent provisions of one user: one target, one overlay, the last secret is the valid one', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const p = env.open()
  const results = await Promise.all(Array.from({ length: 20 }, () => p.attach('fc29', 'alice')))
  const targets = (await p.tgt.showTargets()).filter((x) => x.name === 'iqn.edu.example.server-01:fc29-alice')
  t.equal(targets.length, 1, 'one target')
  t.same(
    targets[0]!.luns.map((l) => l.lun),
    [0, 1],
    'controller + one disk LUN',
  )
  t.same(readdirSync(join(env.stateDir, 'overlays', 'fc29')), ['alice.qcow2'], 'one overlay, no temp files left')
  t.equal(new Set(results.map((r) => r.chapSecret)).size, 20, 'every login got its own secret')
  t.ok((await iscsiInq(iscsiUrl(results[19]!))).ok, 'the last one works')
  t.notOk((await iscsiInq(iscsiUrl(results[0]!))).ok, 'the first one no longer does')
  t.same((await p.tgt.showAccounts()).sort(), ['alice', 'bp_guard_fc29-alice'])
})

t.test('two processes sharing the state (file lock) and different users in parallel', async (t) => {
  const env = await iscsiEnv()
  t.teardown(() => env.cleanup())
  const a = env.open()
  const b = env.open()
  const users = ['u1', 'u2', 'u3', 'u4', 'u5']
  const t0 = performance.now()
  await Promise.all([...users.map((u) => a.attach('fc29', u)), ...users.map((u) => b.attach('fc29', u)), a.attach('fc29', 'u1'), b.attach('fc29', 'u1')])
  const ms = performance.now() - t0
  const targets = await a.tgt.showTargets()
  t.equal(targets.length, 5, `five users, five targets (${Math.round(ms)} ms for 12 logins)`)
  t.equal(new Set(targets.map((x) => x.tid)).size, 5, 'distinct tids')
  t.same(
    readdirSync(join(env.stateDir, 'overlays', 'fc29')).sort(),
    users.map((u) => `${u}.qcow2`),
  )
  t.same(readdirSync(join(env.stateDir, 'locks')), [], 'no lock left behind')
})
