/** Hook semantics: order and pre/post, parallel/sequential/first-wins, containment, lifecycle errors. */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'

/** What the client's screen shows: the arguments of the first echo, as iPXE expands them. */
const shown = (body: string): string =>
  parseScript(body)
    .commands.find((c) => c.argv[0] === 'echo')
    ?.argv.slice(1)
    .join(' ') ?? ''

/** Writes a plugin module (plain ESM) into the temp dir and returns its config entry. */
function plugin(dir: string, name: string, body: string, options: Record<string, unknown> = {}) {
  const file = join(dir, `${name}.mjs`)
  writeFileSync(file, `const events = globalThis.__bpEvents ??= []\nexport default (options) => ({ name: '${name}', version: '1.0.0', bootpolicy: '^0.1.0', ${body} })\n`)
  return { name, path: file, options }
}

const events = (): string[] => ((globalThis as { __bpEvents?: string[] }).__bpEvents ??= [])

t.beforeEach(() => {
  events().length = 0
})

t.test('order: pre, then config order, then post; onClose in reverse', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => undefined` })
  t.teardown(() => dir.remove())
  const plugins = [
    plugin(dir.dir, 'a', `hooks: { onRequest: async () => { events.push('a') }, onClose: async () => { events.push('close a') } }`),
    plugin(dir.dir, 'b', `hooks: { onRequest: { order: 'post', handler: async () => { events.push('b') } }, onClose: async () => { events.push('close b') } }`),
    plugin(dir.dir, 'c', `hooks: { onRequest: { order: 'pre', handler: async () => { events.push('c') } } }`),
  ]
  const bp = await build(dir.config({ plugins }))
  await bp.app.inject('/boot')
  t.same(events(), ['c', 'a', 'b'])
  await bp.close()
  t.same(events().slice(3), ['close b', 'close a'])
})

t.test('enrich runs in parallel, each plugin in its own slot; a failing one leaves its slot empty', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.plugins) })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      plugins: [
        plugin(dir.dir, 'slow', `hooks: { enrich: async () => { events.push('start slow'); await new Promise(r => setTimeout(r, 150)); events.push('end slow'); return { n: 1 } } }`),
        plugin(dir.dir, 'slow2', `hooks: { enrich: async () => { events.push('start slow2'); await new Promise(r => setTimeout(r, 150)); events.push('end slow2'); return { n: 2 } } }`),
        plugin(dir.dir, 'broken', `hooks: { enrich: async () => { throw new Error('ldap down') } }`),
      ],
    }),
  )
  t.teardown(() => bp.close())
  const res = await bp.app.inject('/boot')
  // In parallel: both started before either finished (by order of events, not by a wall-clock bound).
  t.same(events().slice(0, 2).sort(), ['start slow', 'start slow2'], `both enrichers started before either ended: ${events().join(', ')}`)
  t.match(shown(res.body), /\{"slow":\{"n":1\},"slow2":\{"n":2\}\}/)
})

t.test('authenticate: first principal wins; policies see the principal, never the password', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      plugins: [
        plugin(dir.dir, 'notmine', `hooks: { authenticate: async () => undefined }`),
        plugin(dir.dir, 'pam', `hooks: { authenticate: async (ctx, c) => c.password === 'right' ? { principal: { name: c.username, groups: ['lab'], source: '' } } : { failed: 'wrong password' } }`),
        plugin(dir.dir, 'never', `hooks: { authenticate: async () => { events.push('never'); return { principal: { name: 'x', groups: [], source: 'never' } } } }`),
      ],
    }),
  )
  t.teardown(() => bp.close())
  const ok = await bp.app.inject('/boot?username=alice&password=right')
  t.match(shown(ok.body), /\{"status":"authenticated","username":"alice","principal":\{"name":"alice","groups":\["lab"\],"source":"pam"\}\}/)
  t.notMatch(ok.body, /right/)
  const bad = await bp.app.inject('/boot?username=alice&password=wrong')
  t.match(shown(bad.body), /"status":"failed".*"reason":"wrong password"/)
  t.same(events(), [], 'the first answer stops the chain')
})

t.test('decide runs after the policies passed; prepare runs in order and can replace the decision', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ctx.params.policy ? { kind: 'exit', message: 'policy' } : undefined` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      plugins: [
        plugin(dir.dir, 'decider', `hooks: { decide: async () => ({ kind: 'shell', message: 'plugin' }) }`),
        plugin(dir.dir, 'prep1', `hooks: { prepare: async (ctx, d) => { events.push('prep1 ' + d.kind); return undefined } }`),
        plugin(dir.dir, 'prep2', `hooks: { prepare: async (ctx, d) => { events.push('prep2 ' + d.kind); return d.kind === 'shell' ? { kind: 'reboot' } : undefined } }`),
      ],
    }),
  )
  t.teardown(() => bp.close())
  t.match((await bp.app.inject('/boot?policy=1')).body, /echo policy\nexit/)
  const fromPlugin = await bp.app.inject('/boot')
  t.match(fromPlugin.body, /\nreboot\n/)
  t.same(events(), ['prep1 exit', 'prep2 exit', 'prep1 shell', 'prep2 shell'])
})

t.test('containment: a hook that throws or hangs still gets the client an answer; the log names plugin and hook', async (t) => {
  const logs = captureLogs('info')
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit', message: 'policy ran' })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      pluginTimeouts: { hookMs: 100 },
      plugins: [
        plugin(dir.dir, 'hangs', `hooks: { enrich: async () => new Promise(() => {}) }`),
        plugin(
          dir.dir,
          'throws',
          `hooks: { prepare: async (ctx) => { if (ctx.params.boom) throw new Error('tgtadm failed'); return undefined }, onResponse: async () => { throw new Error('ignored') } }`,
        ),
      ],
    }),
    { logger: logs.logger },
  )
  t.teardown(() => bp.close())
  const hung = await bp.app.inject('/boot')
  t.match(hung.body, /echo policy ran/, 'a hanging enrich costs its timeout, the request goes on')
  const boom = await bp.app.inject('/boot?boom=1')
  t.match(boom.body, /bootpolicy: BP_ERR_PLUGIN_HOOK/, 'a failed side effect gives the failsafe')
  const failures = logs.records().filter((r) => r.msg === 'plugin hook failed')
  t.ok(failures.some((r) => r.plugin === 'hangs' && r.hook === 'enrich' && (r.err as { code: string }).code === 'BP_ERR_PLUGIN_TIMEOUT'))
  t.ok(failures.some((r) => r.plugin === 'throws' && r.hook === 'prepare'))
})

t.test('lifecycle errors: version range, missing dependency, setup timeout, bad module', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => undefined` })
  t.teardown(() => dir.remove())
  const cfg = (plugins: object[], extra = {}) => dir.config({ plugins, ...extra })
  const old = plugin(dir.dir, 'old', `hooks: {}`)
  writeFileSync(old.path, `export default () => ({ name: 'old', version: '1.0.0', bootpolicy: '^2.0.0' })`)
  await t.rejects(build(cfg([old])), { code: 'BP_ERR_PLUGIN_VERSION' })
  await t.rejects(build(cfg([plugin(dir.dir, 'needy', `dependencies: ['ldap']`)])), { code: 'BP_ERR_PLUGIN_DEPENDENCY', message: /needs plugin ldap/ })
  await t.rejects(build(cfg([plugin(dir.dir, 'sleepy', `setup: () => new Promise(() => {})`)], { pluginTimeouts: { setupMs: 100 } })), { code: 'BP_ERR_PLUGIN_TIMEOUT' })
  const notAFactory = join(dir.dir, 'bad.mjs')
  writeFileSync(notAFactory, `export const x = 1`)
  await t.rejects(build(cfg([{ name: 'bad', path: notAFactory }])), { code: 'BP_ERR_PLUGIN_LOAD', message: /default-export a factory/ })
  await t.rejects(build(cfg([{ name: 'no-such-plugin-anywhere' }])), { code: 'BP_ERR_PLUGIN_LOAD' })
})

t.test('virtual files are served over HTTP before the disk', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => undefined` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({ plugins: [plugin(dir.dir, 'gen', `hooks: { virtualFile: async (path, client) => path === 'pxelinux.cfg/default' ? Buffer.from('DEFAULT x ' + client.protocol) : undefined }`)] }),
  )
  t.teardown(() => bp.close())
  const res = await bp.app.inject('/files/pxelinux.cfg/default')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'DEFAULT x http')
  t.equal((await bp.app.inject('/files/pxelinux.cfg/other')).statusCode, 404)
})

t.test('auth.limits from the config: the third failure in the window is refused without asking the backend', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: ctx.auth.reason ?? ctx.auth.status })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      auth: { limits: { perUser: 2 } },
      plugins: [
        plugin(
          dir.dir,
          'pw',
          `hooks: { authenticate: async (ctx, c) => { events.push('asked'); return c.password === 'right' ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' } } }`,
        ),
      ],
    }),
  )
  t.teardown(() => bp.close())
  for (let i = 0; i < 2; i++) t.equal(shown((await bp.app.inject('/boot?username=bob&password=nope')).body), 'wrong password')
  t.match(shown((await bp.app.inject('/boot?username=bob&password=right')).body), /^too many failed attempts, retry in \d+ s$/)
  t.equal(events().length, 2, 'the backend was asked twice, not three times')
})

t.test('a plugin that declares a revision keeps whole responses cacheable; prepare still runs on every request', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: 'rack ' + ctx.plugins.racks.rack })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      plugins: [
        plugin(dir.dir, 'racks', `revision: () => String(globalThis.__rackRev ?? 0), hooks: { enrich: async () => { events.push('enrich'); return { rack: 'r' + (globalThis.__rackRev ?? 0) } } }`),
        plugin(dir.dir, 'effects', `hooks: { prepare: async () => { events.push('prepare'); return undefined } }`),
      ],
    }),
  )
  t.teardown(() => bp.close())
  t.ok(bp.plugins.cacheable)
  const first = await bp.engine.handle({ query: 'mac=52:54:00:00:00:01', remoteAddress: '192.0.2.1', requestId: 'a1' })
  const second = await bp.engine.handle({ query: 'mac=52:54:00:00:00:01', remoteAddress: '192.0.2.1', requestId: 'a2' })
  t.equal(first.record.cached, false)
  t.equal(second.record.cached, true, 'served whole from the cache')
  t.same(events(), ['enrich', 'prepare', 'prepare'], 'enrich ran once, prepare twice')
  ;(globalThis as { __rackRev?: number }).__rackRev = 1
  const third = await bp.engine.handle({ query: 'mac=52:54:00:00:00:01', remoteAddress: '192.0.2.1', requestId: 'a3' })
  t.match(shown(third.script), 'rack r1', 'a new plugin revision is a new cache key')
  delete (globalThis as { __rackRev?: number }).__rackRev
})

t.test('an enrich hook without a declared revision turns the whole-response cache off', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [plugin(dir.dir, 'live', `hooks: { enrich: async () => { events.push('enrich'); return {} } }`)] }))
  t.teardown(() => bp.close())
  t.notOk(bp.plugins.cacheable)
  await bp.app.inject('/boot?mac=52:54:00:00:00:01')
  await bp.app.inject('/boot?mac=52:54:00:00:00:01')
  t.same(events(), ['enrich', 'enrich'])
})

t.test('a prepare hook with `kinds` runs only for decisions that hold one of them', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ctx.params.menu ? { kind: 'menu', items: [{ id: 'a', text: 'A', action: { kind: 'reboot' } }] } : { kind: 'exit' }` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({ plugins: [plugin(dir.dir, 'rb', `hooks: { prepare: { kinds: ['reboot'], handler: async (ctx, d) => { events.push('prepare ' + d.kind); return undefined } } }`)] }),
  )
  t.teardown(() => bp.close())
  await bp.app.inject('/boot')
  await bp.app.inject('/boot?menu=1')
  t.same(events(), ['prepare menu'], 'skipped for exit; run for a menu whose item reboots')
})
