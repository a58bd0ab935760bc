/**
 * The registry refuses, at load and before any setup runs, what would otherwise fail silently or
 * late: unknown keys and hooks (misspellings, with did-you-mean), malformed hooks and kinds, and
 * contributions that collide with core or with another plugin (error codes, namespaces, kinds,
 * commands, plugin names).
 */
import t, { type Test } from 'tap'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BootpolicyError } from '../../../core/errors/bp-error.js'
import { createLogger } from '../../../core/log/logger.js'
import { loadPlugins } from '../../../core/plugins/load-plugins.js'
import { PluginHost } from '../../../core/plugins/plugin-host.js'
import { defineErrors } from '../../../core/plugins/plugin-errors.js'
import { PluginRegistry } from '../../../core/plugins/plugin-registry.js'
import type { BootpolicyPlugin } from '../../../core/plugins/types.js'

const base = (name: string, extra: Record<string, unknown> = {}): BootpolicyPlugin => ({ name, version: '1.0.0', bootpolicy: '^0.1.0', ...extra }) as BootpolicyPlugin
const spec = { message: 'm {x}', when: 'w', fix: 'f' }
const kind = { validate() {}, render() {} }
const command = {
  summary: 's',
  usage: 'u',
  async run() {
    return 0
  },
}

/** The refusal's message, asserting its code and that it names the plugin. */
function refusal(t: Test, plugins: BootpolicyPlugin[], plugin: string): string {
  try {
    PluginRegistry.of(plugins)
  } catch (err) {
    t.ok(err instanceof BootpolicyError, 'a BootpolicyError')
    t.equal((err as BootpolicyError).code, 'BP_ERR_PLUGIN_DEFINITION')
    t.match((err as Error).message, `Plugin ${plugin} is not a valid plugin`)
    return (err as Error).message
  }
  t.fail('not refused')
  return ''
}

t.test('unknown hook names are refused with did-you-mean', async (t) => {
  t.match(refusal(t, [base('rack', { hooks: { enrch: async () => ({}) } })], 'rack'), /unknown hook "enrch"; did you mean "enrich"\?/)
  t.match(refusal(t, [base('rack', { hooks: { onrequest: async () => {} } })], 'rack'), /did you mean "onRequest"/)
  t.match(refusal(t, [base('rack', { hooks: { beforeBoot: async () => {} } })], 'rack'), /unknown hook "beforeBoot" \(known: onRequest, enrich,/)
  t.match(refusal(t, [base('rack', { hooks: { __proto__: null, toString: async () => {} } })], 'rack'), /unknown hook "toString"/)
})

t.test('unknown top-level keys and keys inside hooks, kinds and commands are refused', async (t) => {
  t.match(refusal(t, [base('rack', { hoks: {} })], 'rack'), /unknown key "hoks"; did you mean "hooks"\?/)
  t.match(refusal(t, [base('rack', { decisionKind: {} })], 'rack'), /did you mean "decisionKinds"/)
  t.match(refusal(t, [base('rack', { policyHelper: '/x.ts' })], 'rack'), /did you mean "policyHelpers"/)
  t.match(refusal(t, [base('rack', { hooks: { prepare: { handlr: async () => undefined } } })], 'rack'), /unknown key of hook prepare "handlr"; did you mean "handler"/)
  t.match(refusal(t, [base('rack', { decisionKinds: { boot: { validate() {}, rendr() {} } } })], 'rack'), /did you mean "render"/)
  t.match(refusal(t, [base('rack', { commands: { rack: { ...command, flgs: [] } } })], 'rack'), /did you mean "flags"/)
})

t.test('hostile shapes are refused, not crashed on', async (t) => {
  t.match(refusal(t, [base('rack', { hooks: { enrich: 'yes' } })], 'rack'), /hook enrich must be a function or/)
  t.match(refusal(t, [base('rack', { hooks: { enrich: { handler: 1 } } })], 'rack'), /needs a handler function/)
  t.match(refusal(t, [base('rack', { hooks: { enrich: { handler: async () => ({}), order: 'first' } } })], 'rack'), /order must be "pre" or "post"/)
  t.match(refusal(t, [base('rack', { hooks: { enrich: { handler: async () => ({}), kinds: ['x'] } } })], 'rack'), /kinds is a list of decision kinds, for prepare only/)
  t.match(refusal(t, [base('rack', { hooks: [] })], 'rack'), /hooks must be an object/)
  t.match(refusal(t, [base('rack', { decisionKinds: { boot: { validate() {} } } })], 'rack'), /needs a render function/)
  t.match(refusal(t, [base('rack', { decisionKinds: { 'Boot Me': kind } })], 'rack'), /decision kind "Boot Me"/)
  t.match(refusal(t, [base('rack', { setup: 'later' })], 'rack'), /setup must be a function/)
  t.match(refusal(t, [base('rack', { errors: { BP_ERR_RACK_X: spec } })], 'rack'), /errors must be made with defineErrors/)
  t.match(refusal(t, [base('rack', { commands: { rack: { summary: 's', usage: 'u' } } })], 'rack'), /needs a run function/)
  t.match(refusal(t, [base('rack', { commands: { 'Rack!': command } })], 'rack'), /command "Rack!"/)
  t.match(refusal(t, [base('rack', { commands: { rack: { ...command, flags: ['config'] } } })], 'rack'), /flag "config" must be/)
  t.match(refusal(t, [base('rack', { commands: { rack: { ...command, flags: ['--x y'] } } })], 'rack'), /flag "--x y" must be/)
})

t.test('error codes: the plugin namespace is required, core codes and areas are refused', async (t) => {
  t.match(refusal(t, [base('rack', { errors: defineErrors('RACK', { BP_ERR_LDAP_DOWN: spec }) })], 'rack'), /error code BP_ERR_LDAP_DOWN must start with BP_ERR_RACK_, BPWRN_RACK_ or BPSEC_RACK_/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('RACK', { BP_ERR_RACKX: spec }) })], 'rack'), /BP_ERR_RACKX must start with BP_ERR_RACK_/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('RACK', { BPWRN001: spec }) })], 'rack'), /BPWRN001 is a core code/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('PLUGIN', { BP_ERR_PLUGIN_LOAD: spec }) })], 'rack'), /namespace PLUGIN is core's/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('POLICY', { BP_ERR_POLICY_RACK: spec }) })], 'rack'), /namespace POLICY is core's/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('rack', { BP_ERR_rack_X: spec }) })], 'rack'), /error namespace "rack": 2–16 upper-case/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('RACK', { BP_ERR_RACK_X: { message: 'm', when: '', fix: 'f' } }) })], 'rack'), /BP_ERR_RACK_X needs a when text/)
  t.match(refusal(t, [base('rack', { errors: defineErrors('RACK', { BP_ERR_RACK_X: { ...spec, status: 200 } }) })], 'rack'), /status must be an HTTP error status/)
})

t.test('collisions between plugins are refused, naming the earlier plugin', async (t) => {
  const a = base('rack', { errors: defineErrors('RACK', { BP_ERR_RACK_DOWN: spec }), commands: { rack: command }, decisionKinds: { boot: kind } })
  t.match(refusal(t, [a, base('rack2', { errors: defineErrors('RACK', { BP_ERR_RACK_OTHER: spec }) })], 'rack2'), /namespace RACK is already plugin rack's/)
  t.match(refusal(t, [a, base('rack2', { commands: { rack: command } })], 'rack2'), /command "rack" is already contributed by plugin rack/)
  t.match(refusal(t, [a, base('rack2', { decisionKinds: { 'rack.boot': kind } })], 'rack2'), /decision kind rack\.boot is already contributed by plugin rack/)
  t.match(refusal(t, [a, base('rack')], 'rack'), /a plugin of this name is already loaded/)
  t.match(refusal(t, [base('rack', { commands: { serve: command } })], 'rack'), /command "serve" is a bootpolicy command/)
})

t.test('a valid plugin registers its contributions', async (t) => {
  const errors = defineErrors('RACK', { BP_ERR_RACK_DOWN: { ...spec, status: 503 }, BPWRN_RACK_STALE: spec })
  const r = PluginRegistry.of([base('rack', { errors, commands: { rack: command }, decisionKinds: { boot: kind }, policyHelpers: '/x/policy-helpers.ts', hooks: { enrich: async () => ({}) } })])
  t.same([...r.errors.keys()], ['BP_ERR_RACK_DOWN', 'BPWRN_RACK_STALE'])
  t.same([...r.commands.keys()], ['rack'])
  t.same([...r.kindValidators.keys()], ['rack.boot'])
  t.same(r.policyHelpers, [['bootpolicy/plugins/rack', '/x/policy-helpers.ts']])
  t.notOk(r.cacheable, 'an enrich hook without a revision turns the response cache off')
  const err = errors.create('BP_ERR_RACK_DOWN', { x: 'up' }, { cause: new Error('root') })
  t.ok(err instanceof BootpolicyError)
  t.match(err, { code: 'BP_ERR_RACK_DOWN', message: 'm up', statusCode: 503, params: { x: 'up' }, cause: { message: 'root' } })
  t.equal(errors.create('BP_ERR_RACK_NOPE' as never, { details: 'd' }).message, 'BP_ERR_RACK_NOPE d', 'an undeclared code still makes a readable error')
})

t.test('a misspelled hook in a plugin file is refused at load, before its setup or any later setup runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const marker = (n: string) => join(dir, `setup-${n}`)
  const write = (name: string, hooks: string) => {
    const file = join(dir, `${name}.mjs`)
    writeFileSync(
      file,
      `import { writeFileSync } from 'node:fs'\nexport default () => ({ name: '${name}', version: '1.0.0', bootpolicy: '^0.1.0', async setup() { writeFileSync(${JSON.stringify(marker(name))}, '') }, hooks: { ${hooks} } })\n`,
    )
    return { name, path: file, options: {}, enabled: true }
  }
  const entries = [write('good', 'async enrich() { return {} }'), write('typo', 'async autenticate() { return undefined }'), write('after', '')]
  const err = await loadPlugins(entries, { baseDir: dir, stateDir: join(dir, 'var'), bootPath: '/boot', setupTimeoutMs: 2000, logger: createLogger('silent') }).catch((e: unknown) => e)
  t.match(err, { code: 'BP_ERR_PLUGIN_DEFINITION', message: /Plugin typo .*unknown hook "autenticate"; did you mean "authenticate"\?/ })
  t.ok(existsSync(marker('good')), 'the plugin before it was set up (and closed again)')
  t.notOk(existsSync(marker('typo')), 'the refused plugin was not set up')
  t.notOk(existsSync(marker('after')), 'nothing after it was loaded')
})

t.test('the host refuses a malformed plugin too (plugins passed in directly)', async (t) => {
  t.throws(() => new PluginHost([base('rack', { hooks: { decid: async () => undefined } })], { hookTimeoutMs: 100, logger: createLogger('silent') }), {
    code: 'BP_ERR_PLUGIN_DEFINITION',
    message: /did you mean "decide"/,
  })
})
