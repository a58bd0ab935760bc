/**
 * The logger scrubs registered secrets from messages, error messages, causes (AggregateError too)
 * and stacks, and caps every string it writes; a password sent to /boot is registered before
 * any backend sees it, so a backend that echoes it in an error cannot leak it.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { registerSecret } from '../../../core/log/secret-registry.js'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { trailSecret } from '../../helpers/secret-trail.js'

t.test('hazard: a registered secret reaches the log through an error cause, message or stack', async (t) => {
  const secret = `chap-${randomBytes(8).toString('hex')}`
  registerSecret(secret)
  trailSecret(secret)
  const logs = captureLogs('info')
  const inner = new Error(`tgtadm: bad account ${secret}`)
  const agg = new AggregateError([inner, new TypeError(`second ${secret}`)], 'all backends failed')
  const err = new Error('setup failed', { cause: agg })
  ;(err as Error & { detail?: unknown }).detail = { nested: [`x ${secret} y`] }
  logs.logger.error({ err, plugin: 'iscsi', extra: { deeper: { text: secret } } }, `could not use ${secret}`)
  logs.logger.warn(new Error(`plain ${secret}`))
  logs.logger.info({ err: { message: `plain object ${secret}` } }, 'hand-made err')
  t.equal(logs.lines.length, 3)
  for (const line of logs.lines) t.notOk(line.includes(secret), `no secret in: ${line.slice(0, 120)}`)
  const [first, second] = logs.records() as Array<Record<string, any>>
  t.equal(first!.msg, 'could not use [redacted]')
  t.equal(first!.err.message, 'setup failed')
  t.equal(first!.err.cause.type, 'AggregateError')
  t.equal(first!.err.cause.errors[0].message, 'tgtadm: bad account [redacted]')
  t.equal(first!.err.cause.errors[1].type, 'TypeError')
  t.match(first!.err.cause.errors[0].stack, /^Error: tgtadm: bad account \[redacted\]\n\s+at /)
  t.same(first!.err.detail, { nested: ['x [redacted] y'] })
  t.equal(first!.extra.deeper.text, '[redacted]')
  t.equal(second!.msg, 'plain [redacted]', "pino's message taken from the error is scrubbed too")
})

t.test('hazard: an 8 MB thrown message is logged whole', async (t) => {
  const logs = captureLogs('info')
  const huge = 'A'.repeat(8 * 1024 * 1024)
  logs.logger.error({ err: new Error(huge), field: huge }, huge)
  const line = logs.lines[0]!
  t.ok(line.length < 32 * 1024, `one line of ${line.length} bytes`)
  const rec = JSON.parse(line) as Record<string, any>
  t.equal(rec.err.message, `${'A'.repeat(4096)}…[truncated ${huge.length - 4096} chars]`)
  t.match(rec.err.stack, /…\[truncated \d+ chars\]$/)
  t.match(rec.field, /…\[truncated 8384512 chars\]$/)
  t.match(rec.msg, /…\[truncated 8384512 chars\]$/)
})

t.test('hazard: a backend that echoes the /boot password in its error leaks it to the log', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'echoing.mjs')
  writeFileSync(
    file,
    `
    export default () => ({ name: 'echoing', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => { throw new Error('bind failed for ' + c.username + ' with ' + c.password, { cause: new Error('server said: ' + c.password) }) },
    } })`,
  )
  const logs = captureLogs('debug')
  const bp = await build(dir.config({ plugins: [{ name: 'echoing', path: file }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  const password = `pw-${randomBytes(8).toString('hex')}`
  trailSecret(password)
  const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')
  await bp.app.inject(`/boot?username=carol&password_hex=${hex(password)}`)
  await bp.app.inject(`/boot?username=carol&%FFFFFF70assword=${password}`)
  const failures = logs.records().filter((r) => r.msg === 'plugin hook failed')
  t.equal(failures.length, 2, 'the errors were logged')
  t.match(JSON.stringify(failures[0]), /bind failed for carol with \[redacted\]/)
  for (const line of logs.lines) t.notOk(line.includes(password), `no password in: ${line.slice(0, 160)}`)
})

t.test('hazard: hostile error shapes (endless cause chains, cycles, throwing getters, deep objects) break or flood the log', async (t) => {
  const logs = captureLogs('info')
  let chain: Error = new Error('root')
  for (let i = 0; i < 50; i++) chain = new Error(`level ${i}`, { cause: chain })
  const looped = new Error('looped')
  ;(looped as Error & { cause?: unknown }).cause = looped
  const hostile = new Error('hostile')
  Object.defineProperty(hostile, 'message', {
    get() {
      throw new Error('no message for you')
    },
  })
  const cyclic: Record<string, unknown> = { name: 'cyclic' }
  cyclic.self = cyclic
  let deep: Record<string, unknown> = { leaf: 'bottom' }
  for (let i = 0; i < 20; i++) deep = { down: deep }
  const many = new AggregateError(
    Array.from({ length: 100 }, (_, i) => new Error(`e${i}`)),
    'many',
  )
  logs.logger.error({ err: chain }, 'chain')
  logs.logger.error({ err: looped }, 'looped')
  logs.logger.error({ err: hostile }, 'hostile')
  logs.logger.info({ cyclic, deep }, 'shapes')
  logs.logger.error({ err: many }, 'many')
  t.equal(logs.lines.length, 5, 'every line was written')
  const [c, l, h, s, m] = logs.records() as Array<Record<string, any>>
  let depth = 0
  for (let e = c!.err; e && typeof e === 'object' && e.cause; e = e.cause) depth++
  t.ok(depth <= 8, `the cause chain is cut (${depth} levels)`)
  t.match(JSON.stringify(c), /\[more causes\]|\[too deep\]/)
  t.ok(JSON.stringify(l).length < 64 * 1024, 'a cause cycle ends')
  t.equal(h!.err.message, '', 'a throwing message getter leaves an empty message, the line is still written')
  t.match(JSON.stringify(s!.deep), /\[too deep\]/, 'depth is bounded at 8 levels')
  t.equal(m!.err.errors.length, 32, "AggregateError's errors: 32 at most")
})

t.test("hazard: a client's password blanks the log's constant vocabulary (msg, codes) for everybody", async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'refusing.mjs')
  writeFileSync(
    file,
    `export default () => ({ name: 'refusing', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
    authenticate: async (ctx, c) => c.username === 'echo' ? Promise.reject(new Error('echoed ' + c.password)) : { failed: 'wrong password' } } })`,
  )
  const logs = captureLogs('debug')
  const bp = await build(dir.config({ plugins: [{ name: 'refusing', path: file }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  // An attacker uses words of the log's vocabulary as passwords, then gets limited (BPSEC002).
  for (let i = 0; i < 6; i++) await bp.app.inject({ url: `/boot?username=mallory&password=${i % 2 ? 'BPSEC002' : 'decision'}`, remoteAddress: '192.0.2.66' })
  await bp.app.inject({ url: '/boot?username=echo&password=decision', remoteAddress: '192.0.2.67' })
  await bp.app.inject({ url: '/boot?mac=52-54-00-00-00-09', remoteAddress: '192.0.2.68' })
  const records = logs.records()
  t.ok(records.filter((r) => r.msg === 'decision').length >= 8, 'every decision line still says "decision"')
  t.match(
    records.find((r) => r.code === 'BPSEC002'),
    { msg: 'BPSEC002 login rate limited', code: 'BPSEC002' },
    'the security warning keeps its code',
  )
  const failed = records.find((r) => r.msg === 'plugin hook failed') as { err: { message: string; cause?: { message: string } } }
  t.match(JSON.stringify(failed.err), /echoed \[redacted\]/, 'inside error text the password is still scrubbed')
})
