/**
 * The embedded IntentStore and the Lifecycle over it, without HTTP: each transition, the
 * exactly-once settle under a burst, a failed write that changes nothing, lazy expiry at lookup,
 * and the event hook the machine timeline will use.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createLogger } from '../../../core/log/logger.js'
import { FileIntentStore } from '../../../core/lifecycle/file-intent-store.js'
import { hashToken, mintToken } from '../../../core/lifecycle/intent-token.js'
import type { IntentRecord, LifecycleEvent } from '../../../core/lifecycle/intent-types.js'
import { Lifecycle } from '../../../core/lifecycle/lifecycle.js'
import { JsonFileStateStore } from '../../../core/state/state-store.js'
import type { BootContext } from '../../../core/context/types.js'

const MAC = '52:54:00:bb:00:01'
const T0 = 1_900_000_000_000

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'bp-intents-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let now = T0
  const store = new FileIntentStore(new JsonFileStateStore(dir))
  const events: LifecycleEvent[] = []
  const lifecycle = new Lifecycle({ store, logger: createLogger('silent'), now: () => now, sweepMs: 0 })
  lifecycle.subscribe((e) => events.push(e))
  lifecycle.subscribe(() => {
    throw new Error('a broken listener')
  })
  return { dir, store, lifecycle, events, tick: (ms: number) => (now += ms) }
}

const ctx = (extra: Partial<BootContext> = {}): BootContext => ({
  mac: MAC,
  arch: 'x86_64-pcbios',
  remoteAddress: '192.0.2.1',
  params: {},
  auth: { status: 'none' },
  plugins: {},
  dropped: [],
  ...extra,
})
const armReq = (expiresIn = 60_000) => ({ machine: { by: 'mac' as const, value: MAC }, target: { profile: 'p' }, note: '', expiresAt: T0 + expiresIn })

async function tokenFor(lifecycle: Lifecycle, c: BootContext): Promise<string> {
  const intent = await lifecycle.intentFor(c)
  return (await lifecycle.bindToken('x @bp-intent-token@ y', { ...c, ...(intent && { intent }) })).split(' ')[1]!
}

t.test('tokens: 160 random bits, stored as SHA-256, never equal', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const { token, hash } = mintToken()
    t.match(token, /^[0-9a-f]{40}$/)
    t.equal(hash, hashToken(token))
    seen.add(token)
  }
  t.equal(seen.size, 1000)
})

t.test('every transition, with its event and its revision change', async (t) => {
  const { lifecycle, events, store, tick } = setup(t)
  const r0 = lifecycle.revision()
  t.equal(await lifecycle.intentFor(ctx()), undefined)
  const { intent } = await lifecycle.arm(armReq(), 'admin token')
  t.not(lifecycle.revision(), r0, 'armed: a new revision')
  t.match(await lifecycle.intentFor(ctx()), { id: intent.id, profile: 'p', state: 'armed', expiresAt: new Date(T0 + 60_000).toISOString() })
  t.equal(await lifecycle.intentFor(ctx({ mac: '52:54:00:bb:00:02' })), undefined)
  const r1 = lifecycle.revision()
  const token = await tokenFor(lifecycle, ctx())
  t.equal(lifecycle.revision(), r1, 'a token is not something policies see: same revision')
  t.equal(await lifecycle.bindToken('a @bp-intent-token@ b', ctx()), 'a  b', 'no intent in ctx: the placeholder becomes nothing')
  t.equal(await lifecycle.bindToken('a @bp-intent-token@ b', ctx({ mac: undefined, intent: (await lifecycle.intentFor(ctx()))! })), 'a  b', 'no MAC or UUID to bind it to: nothing')
  const failed = await lifecycle.callback({ mac: MAC }, token, { outcome: 'failed', reason: 'disk' })
  t.match(failed, { outcome: 'failed', intent: { state: 'failed', failure: { reason: 'disk' } } })
  t.not(lifecycle.revision(), r1, 'failed: ctx.intent changed')
  tick(1000)
  const second = await tokenFor(lifecycle, ctx())
  await t.rejects(lifecycle.callback({ mac: MAC }, token, { outcome: 'built', reason: 'ok' }), { code: 'BP_ERR_CALLBACK_TOKEN' })
  t.match(await lifecycle.callback({ mac: MAC }, second, { outcome: 'built', reason: 'ok' }), { outcome: 'built', intent: { outcome: 'built', endedBy: 'installer' } })
  t.equal(await lifecycle.intentFor(ctx()), undefined, 'built: consumed')
  await lifecycle.arm(armReq(), 'admin token')
  await lifecycle.arm(armReq(), 'admin token')
  await lifecycle.clear({ by: 'mac', value: MAC }, 'admin token')
  await t.rejects(lifecycle.clear({ by: 'mac', value: MAC }, 'admin token'), { code: 'BP_ERR_INTENT_NOT_FOUND' })
  t.same(
    events.map((e) => (e.type === 'ended' ? `ended:${e.intent.outcome}` : e.type)),
    ['armed', 'token-issued', 'failed', 'token-issued', 'callback-refused', 'ended:built', 'armed', 'armed', 'ended:cleared'],
    'every change told, in order, whatever another listener throws',
  )
  const { active, ended } = await store.list()
  t.equal(active.length, 0)
  t.same(
    ended.map((e) => e.outcome),
    ['cleared', 'replaced', 'built'],
  )
})

t.test('expiry: invisible at lookup the moment it passes, ended by the sweep or by a late callback', async (t) => {
  const { lifecycle, store, tick } = setup(t)
  await lifecycle.arm(armReq(5000), 'admin token')
  const token = await tokenFor(lifecycle, ctx())
  tick(5000)
  t.equal(await lifecycle.intentFor(ctx()), undefined, 'lazily reverted at lookup')
  t.equal(await lifecycle.bindToken('@bp-intent-token@', ctx()), '')
  await t.rejects(lifecycle.callback({ mac: MAC }, token, { outcome: 'built', reason: 'late' }), { code: 'BP_ERR_CALLBACK_EXPIRED' })
  t.match((await store.list()).ended[0], { outcome: 'expired', reason: 'expired before callback' })
  await t.rejects(lifecycle.callback({ mac: MAC }, token, { outcome: 'built', reason: 'late' }), { code: 'BP_ERR_CALLBACK_TOKEN' }, 'ended: unknown from then on')
  await lifecycle.arm(armReq(10_000), 'admin token')
  t.same(await lifecycle.sweep(), [], 'nothing due yet')
  tick(10_000)
  t.match(await lifecycle.sweep(), [{ outcome: 'expired' }])
})

t.test('a burst of 100 settles of one token: exactly one wins; issueToken races end with one live token', async (t) => {
  const { lifecycle, store } = setup(t)
  await lifecycle.arm(armReq(), 'admin token')
  const tokens = await Promise.all(Array.from({ length: 20 }, () => tokenFor(lifecycle, ctx())))
  const live = (await store.list()).active[0]!.token!
  t.equal(tokens.filter((x) => hashToken(x) === live.hash).length, 1, 'of 20 parallel boots, only the last token is live')
  const winner = tokens.find((x) => hashToken(x) === live.hash)!
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => lifecycle.callback({ mac: MAC }, winner, { outcome: 'built', reason: 'ok' })))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  t.ok(results.every((r) => r.status === 'fulfilled' || (r.reason as { code: string }).code === 'BP_ERR_CALLBACK_TOKEN'))
})

t.test('a write that fails changes nothing, and says BP_ERR_INTENT_STATE', async (t) => {
  const { dir } = setup(t)
  // A real fault: once loaded (no file yet), the state "directory" becomes a regular file, so the write fails.
  const file = join(dir, 'not-a-dir')
  const store = new FileIntentStore(new JsonFileStateStore(file))
  const lifecycle = new Lifecycle({ store, logger: createLogger('silent'), now: () => T0, sweepMs: 0 })
  t.same((await store.list()).active, [])
  writeFileSync(file, '')
  await t.rejects(lifecycle.arm(armReq(), 'admin token'), { code: 'BP_ERR_INTENT_STATE' })
  t.equal(await lifecycle.intentFor(ctx()), undefined, 'not armed in memory either')
  t.same((await store.list()).active, [])
})

t.test('the state file is reloaded as written; a corrupt shape starts empty', async (t) => {
  const { dir, lifecycle } = setup(t)
  const { intent } = await lifecycle.arm(armReq(), 'admin token')
  const again = new FileIntentStore(new JsonFileStateStore(dir))
  t.equal(((await again.find([{ by: 'mac', value: MAC }], T0)) as IntentRecord).id, intent.id)
  writeFileSync(join(dir, 'intents.json'), '{"active": 5}')
  t.same((await new FileIntentStore(new JsonFileStateStore(dir)).list()).active, [])
})

t.test('the first load of the intents is no change: the revision stays, so the first boot’s whole answer stays valid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-intents-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = new FileIntentStore(new JsonFileStateStore(dir))
  const before = store.revision()
  t.equal(await store.find([{ by: 'mac', value: MAC }], T0), undefined)
  // A boot's cache key is taken before its lookup loads the document; the second boot must see the same key.
  t.equal(store.revision(), before, 'unchanged by the first load')
  await store.arm({ id: 'i1', machine: { by: 'mac', value: MAC }, target: { profile: 'p' }, note: '', setBy: 'test', setAt: T0, expiresAt: T0 + 60_000 } as IntentRecord, T0)
  t.not(store.revision(), before, 'an arm moves it')
})
