/**
 * Failed-login limits: per user and per address, windows, reset on success, bounded memory, and
 * through the plugin host: no backend call while limited, the reason policies see, outages not
 * counted.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LoginLimiter, limitedReason } from '../../../core/auth/login-limiter.js'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

t.test('per user: max failures per window, then limited until the window ends; success resets', async (t) => {
  let now = 1_000_000
  const l = new LoginLimiter({ perUser: 3, perAddress: 100, windowMs: 60_000 }, () => now)
  for (let i = 0; i < 3; i++) {
    t.equal(l.check('alice', '10.0.0.1'), undefined)
    l.failed('alice', '10.0.0.1')
  }
  t.same(l.check('alice', '10.0.0.2'), { key: 'user', retryInS: 60 }, 'the user is limited from any address')
  t.same(l.check('ALICE', '10.0.0.2'), { key: 'user', retryInS: 60 }, 'case does not open a second window')
  t.equal(l.check('bob', '10.0.0.1'), undefined, 'another user is not')
  now += 45_500
  t.same(l.check('alice', '10.0.0.1'), { key: 'user', retryInS: 15 })
  t.equal(limitedReason({ key: 'user', retryInS: 15 }), 'too many failed attempts, retry in 15 s')
  now += 14_500
  t.equal(l.check('alice', '10.0.0.1'), undefined, 'the window ended')
  l.failed('alice', '10.0.0.1')
  l.failed('alice', '10.0.0.1')
  l.succeeded('alice')
  l.failed('alice', '10.0.0.1')
  l.failed('alice', '10.0.0.1')
  t.equal(l.check('alice', '10.0.0.1'), undefined, 'a success cleared the earlier failures')
})

t.test('per address: many usernames from one address', async (t) => {
  const now = 5_000
  const l = new LoginLimiter({ perUser: 5, perAddress: 4, windowMs: 10_000 }, () => now)
  for (const u of ['a', 'b', 'c', 'd']) l.failed(u, '192.0.2.9')
  t.same(l.check('e', '192.0.2.9'), { key: 'address', retryInS: 10 })
  t.equal(l.check('e', '192.0.2.10'), undefined)
  l.succeeded('d')
  t.ok(l.check('e', '192.0.2.9'), 'a success does not reset the address')
})

t.test('memory is bounded; bad limits are refused', async (t) => {
  const l = new LoginLimiter({ maxKeys: 100 })
  for (let i = 0; i < 10_000; i++) l.failed(`u${i}`, `10.0.${i >> 8}.${i & 255}`)
  t.ok((l as unknown as { windows: { size: number } }).windows.size <= 100)
  t.throws(() => new LoginLimiter({ perUser: 0 }), /perUser must be a positive integer/)
  t.throws(() => new LoginLimiter({ windowMs: 1.5 }), RangeError)
})

const shown = (body: string): Record<string, unknown> =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  ) as Record<string, unknown>

t.test('through the plugin host: no backend call while limited, the reason in ctx.auth, success resets', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'counting.mjs')
  writeFileSync(
    file,
    `
    globalThis.__bpAuthCalls = 0
    export default () => ({ name: 'counting', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => {
        globalThis.__bpAuthCalls++
        if (c.password === 'down') throw new Error('backend down')
        return c.password === 'right' ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' }
      } } })`,
  )
  const logs = captureLogs('info')
  const bp = await build(dir.config({ plugins: [{ name: 'counting', path: file }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  const calls = (): number => (globalThis as { __bpAuthCalls?: number }).__bpAuthCalls ?? 0
  const as = async (u: string, p: string) => shown((await bp.app.inject(`/boot?username=${u}&password=${p}`)).body)

  for (let i = 0; i < 3; i++) t.match(await as('carol', 'down'), { reason: 'authentication service unavailable' })
  t.equal(calls(), 3)
  for (let i = 0; i < 4; i++) await as('alice', 'wrong')
  t.match(await as('alice', 'right'), { status: 'authenticated' }, 'outages were not counted; 4 failures then a success')
  for (let i = 0; i < 5; i++) t.match(await as('alice', 'wrong'), { status: 'failed', reason: 'wrong password' })
  const before = calls()
  const limited = await as('alice', 'right')
  t.match(limited, { status: 'failed', username: 'alice', reason: /^too many failed attempts, retry in (29\d|300) s$/ })
  t.equal(calls(), before, 'no backend call while limited')
  const warning = logs.records().find((r) => r.code === 'BPSEC002')
  t.match(warning, { level: 40, username: 'alice', remoteAddress: '127.0.0.1', limitedBy: 'user' })

  // The per-address limit (20): 9 failures so far from 127.0.0.1 (the limited attempt is not counted).
  for (let i = 0; i < 11; i++) await as(`user${i}`, 'wrong')
  const byAddress = await as('dave', 'right')
  t.match(byAddress, { status: 'failed', reason: /too many failed attempts/ }, 'the address is limited too, even for a good password')
  t.equal(bp.plugins.loginLimiter.check('dave', '192.0.2.1'), undefined, 'other addresses are not')
})

t.test('hazard: an IPv6 client gets a fresh per-address counter from every address of its /64', async (t) => {
  const l = new LoginLimiter({ perUser: 100, perAddress: 4, windowMs: 10_000 }, () => 5_000)
  for (let i = 1; i <= 4; i++) l.failed(`u${i}`, `2001:db8:1:2::${i.toString(16)}`)
  t.same(l.check('x', '2001:db8:1:2:ffff:ffff:ffff:fffe'), { key: 'address', retryInS: 10 }, 'every address of the /64 is limited')
  t.same(l.check('x', '2001:0DB8:0001:0002:0:0:0:99'), { key: 'address', retryInS: 10 }, 'however it is spelled')
  t.equal(l.check('x', '2001:db8:1:3::1'), undefined, 'the next /64 is not')
  for (let i = 1; i <= 4; i++) l.failed(`v${i}`, `::ffff:10.0.0.${i}`)
  t.same(l.check('x', '10.0.0.200'), undefined, 'IPv4 addresses count one by one')
  t.same(l.check('x', '::ffff:10.0.0.1'), undefined, 'an IPv4-mapped address counts as its IPv4 address')
  l.failed('w', '10.0.0.1')
  l.failed('w', '10.0.0.1')
  l.failed('w', '10.0.0.1')
  t.same(l.check('x', '::ffff:10.0.0.1'), { key: 'address', retryInS: 10 }, '…and 10.0.0.1 counted 4 failures')
})

t.test("hazard: a flood of invented usernames evicts a limited user's window and resets the user's counter", async (t) => {
  let now = 1_000_000
  const l = new LoginLimiter({ perUser: 3, perAddress: 1_000_000, windowMs: 60_000, maxKeys: 100, maxLimitedKeys: 100 }, () => now)
  for (let i = 0; i < 3; i++) l.failed('alice', '192.0.2.1')
  t.same(l.check('alice', '192.0.2.9'), { key: 'user', retryInS: 60 })
  // 10,000 invented usernames, one failure each, from 10,000 /64s: 20,000 keys under their limit.
  for (let i = 0; i < 10_000; i++) l.failed(`inv${i}`, `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::1`)
  now += 1000
  t.same(l.check('alice', '192.0.2.9'), { key: 'user', retryInS: 59 }, 'alice is still limited')
  const sizes = l as unknown as { windows: { size: number }; limited: { size: number } }
  t.ok(sizes.windows.size <= 100 && sizes.limited.size <= 100, `memory stays bounded (${sizes.windows.size} + ${sizes.limited.size} windows)`)
  // The limited map has its own cap: 150 limited users keep the newest 100.
  for (let i = 0; i < 150; i++) for (let k = 0; k < 3; k++) l.failed(`lim${i}`, '192.0.2.2')
  t.ok(sizes.limited.size <= 100, 'limited windows are bounded by maxLimitedKeys')
  t.ok(l.check('lim149', '192.0.2.9'), 'the newest limited user is still limited')
  now += 60_000
  t.equal(l.check('alice', '192.0.2.9'), undefined, 'the window still ends on time')
  l.failed('bob', '192.0.2.1')
  l.failed('bob', '192.0.2.1')
  l.failed('bob', '192.0.2.1')
  l.succeeded('bob')
  t.equal(l.check('bob', '192.0.2.1'), undefined, 'a success still clears a limited user')
})

t.test('hazard: through the plugin host, an IPv6 /64 and a username flood cannot reset the limits', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'refusing.mjs')
  writeFileSync(
    file,
    `
    globalThis.__bpRefusals = 0
    export default () => ({ name: 'refusing', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => { globalThis.__bpRefusals++; return { failed: 'wrong password' } } } })`,
  )
  const bp = await build(dir.config({ plugins: [{ name: 'refusing', path: file }], auth: { limits: { maxKeys: 100, maxLimitedKeys: 100 } } }), { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const calls = (): number => (globalThis as { __bpRefusals?: number }).__bpRefusals ?? 0
  const as = async (u: string, from: string) => shown((await bp.app.inject({ url: `/boot?username=${u}&password=guess`, remoteAddress: from })).body)

  for (let i = 1; i <= 20; i++) t.match(await as(`six${i}`, `2001:db8:aa:bb::${i.toString(16)}`), { reason: 'wrong password' })
  t.match(await as('seven', '2001:db8:aa:bb:1234::9'), { status: 'failed', reason: /too many failed attempts/ }, 'the 21st address of the /64 is limited')
  t.match(await as('seven', '2001:db8:aa:bc::1'), { reason: 'wrong password' }, 'another /64 is not')

  for (let i = 0; i < 5; i++) await as('alice', '192.0.2.1')
  t.match(await as('alice', '192.0.2.7'), { reason: /too many failed attempts/ }, 'alice is limited')
  for (let i = 0; i < 200; i++) await as(`inv${i}`, `2001:db8:${i.toString(16)}::1`)
  const before = calls()
  t.match(await as('alice', '192.0.2.8'), { status: 'failed', reason: /too many failed attempts/ }, 'alice is still limited after 200 invented usernames from 200 /64s')
  t.equal(calls(), before, 'and no backend saw her password')
})
