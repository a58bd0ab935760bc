/**
 * createRuntime in process: what each plugin mode sets up and runs, one close() however often it
 * is called, and a failed start that closes what it had set up.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../../core/config/load-config.js'
import { isBootpolicyError } from '../../../core/errors/bp-error.js'
import { createRuntime } from '../../../core/runtime/create-runtime.js'
import { markerSite } from '../../helpers/marker-site.js'

t.setTimeout(300_000)

const request = { query: 'mac=00%3A11%3A22%3A33%3A44%3A55', remoteAddress: '192.0.2.7', requestId: 'r1' }

t.test('online: every plugin set up, enrich shapes the decision, prepare runs on a live request', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const runtime = await createRuntime(loadConfig({ file: site.config }))
  t.teardown(() => runtime.close())
  t.same(site.markers(), ['facts.setup', 'prov.setup'])
  const live = await runtime.engine.handle(request)
  t.equal(live.record.decidedBy, 'policy:p.ts')
  t.equal(live.record.kind, 'marker-provisioner.disk')
  t.same(site.markers(), ['facts.setup', 'prov.setup', 'prov.prepare'])
})

t.test('explain: the enrich plugin is set up, the prepare plugin is not and its hooks never run', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const runtime = await createRuntime(loadConfig({ file: site.config }), { plugins: 'explain', watch: false })
  t.teardown(() => runtime.close())
  t.same(site.markers(), ['facts.setup'])
  // Even a request that is not a dry run reaches no hook of a plugin that was not set up.
  const r = await runtime.engine.handle(request)
  t.equal(r.record.kind, 'marker-provisioner.disk')
  t.match(r.script, /^echo provisioned disk d1$/m)
  t.same(site.markers(), ['facts.setup'])
  await runtime.close()
  t.same(site.markers(), ['facts.setup', 'facts.close'], 'only the plugin that was set up is closed')
})

t.test('offline: no setup, no hook, yet plugin kinds validate and render (a plugin kind as the default)', async (t) => {
  const site = markerSite({ default: { kind: 'marker-provisioner.disk', disk: 'fallback' } })
  t.teardown(() => site.remove())
  const runtime = await createRuntime(loadConfig({ file: site.config }), { plugins: 'offline', watch: false })
  t.teardown(() => runtime.close())
  const r = await runtime.engine.handle(request)
  t.equal(r.record.kind, 'exit', 'no enrich ran: the policy saw no facts')
  t.same(site.markers(), [])
  t.equal(runtime.loadedPlugins.length, 2)
  t.match(runtime.engine.render(runtime.config.default, r.record.context), /^echo provisioned disk fallback$/m, 'the plugin-kind default renders')
  await runtime.close()
  t.same(site.markers(), [], 'nothing was set up, so nothing is closed')
})

t.test('close() closes once, however often and however concurrently it is called', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const runtime = await createRuntime(loadConfig({ file: site.config }), { watch: true })
  await Promise.all([runtime.close(), runtime.close(), runtime.close()])
  await runtime.close()
  t.equal(readFileSync(join(site.dir, 'facts.close'), 'utf8'), 'closed\n')
  t.equal(readFileSync(join(site.dir, 'prov.close'), 'utf8'), 'closed\n')
})

t.test('a start that fails after plugin setup closes the plugins it set up', async (t) => {
  const site = markerSite({ default: { kind: 'marker-provisioner.disk', bogus: 1 } })
  t.teardown(() => site.remove())
  const err = await createRuntime(loadConfig({ file: site.config })).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isBootpolicyError(err) && err.code === 'BP_ERR_CONFIG_INVALID', String(err))
  t.match(String((err as Error).message), /bogus: unknown field/)
  t.same(site.markers(), ['facts.setup', 'facts.close', 'prov.setup', 'prov.close'])
})

t.test('explain: a plugin that fails to load closes the plugins set up before it, and only those', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const config = loadConfig({ file: site.config })
  const broken = { ...config, plugins: [...config.plugins, { name: 'no-such-plugin-r1', options: {}, enabled: true }] }
  const err = await createRuntime(broken, { plugins: 'explain', watch: false }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isBootpolicyError(err) && err.code === 'BP_ERR_PLUGIN_LOAD', String(err))
  t.same(site.markers(), ['facts.setup', 'facts.close'], 'marker-provisioner was neither set up nor closed')
})

t.test('POST /api/explain on a fully set-up server is a dry run: prepare never runs, a live /boot runs it', async (t) => {
  const token = 'explain-token-0123456789abcdef'
  const site = markerSite({ http: { port: 0, host: '127.0.0.1', adminToken: token } })
  t.teardown(() => site.remove())
  const { build } = await import('../../../core/http/build-app.js')
  const bp = await build(loadConfig({ file: site.config }))
  t.teardown(() => bp.close())
  t.same(site.markers(), ['facts.setup', 'prov.setup'])
  const res = await bp.app.inject({ method: 'POST', url: '/api/explain', payload: { mac: '00:11:22:33:44:55' }, headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200, res.body)
  t.equal((res.json() as { record: { kind: string } }).record.kind, 'marker-provisioner.disk', 'explain reached the provisioning decision')
  t.notOk(site.markers().includes('prov.prepare'), 'explain did not run prepare')
  await bp.app.inject('/boot?mac=00%3A11%3A22%3A33%3A44%3A55')
  t.ok(site.markers().includes('prov.prepare'), 'the same decision through /boot runs prepare (so the check above can fail)')
})
