/**
 * The validated config is deep-frozen: every object in it, from loadConfig and validateConfig, and
 * nothing that runs later (plugin loading with schema defaults, a whole runtime) writes into it.
 */
import t from 'tap'
import { loadConfig, validateConfig } from '../../../core/config/load-config.js'
import { createRuntime } from '../../../core/runtime/create-runtime.js'
import { markerSite } from '../../helpers/marker-site.js'

t.setTimeout(300_000)

function unfrozen(value: unknown, path = '$', out: string[] = []): string[] {
  if (value && typeof value === 'object') {
    if (!Object.isFrozen(value)) out.push(path)
    for (const [k, v] of Object.entries(value)) unfrozen(v, `${path}.${k}`, out)
  }
  return out
}

t.test('every object of a loaded config is frozen; writes at any depth throw', async (t) => {
  const site = markerSite({ http: { port: 0, tls: { cert: 'c.pem', key: 'k.pem' } }, dhcp: { mode: 'proxy', serverAddress: '192.0.2.1' } })
  t.teardown(() => site.remove())
  const config = loadConfig({ file: site.config })
  t.same(unfrozen(config), [])
  const c = config as unknown as Record<string, any>
  t.throws(() => (c.http.port = 1), TypeError)
  t.throws(() => (c.http.tls.key = '/etc/shadow'), TypeError)
  t.throws(() => (c.policies.dir = '/tmp'), TypeError)
  t.throws(() => (c.default.kind = 'shell'), TypeError)
  t.throws(() => c.plugins.push({ name: 'evil', options: {}, enabled: true }), TypeError)
  t.throws(() => (c.plugins[0].options.marker = '/tmp/x'), TypeError)
  t.throws(() => (c.plugins[1].enabled = false), TypeError)
  t.throws(() => (c.dhcp.mode = 'full'), TypeError)
  t.throws(() => (c.tftp.root = '/'), TypeError)
  t.throws(() => delete c.auth.limits, TypeError)
  t.throws(() => Object.defineProperty(c.log, 'level', { value: 'trace' }), TypeError)
  // A spread copy is how a caller varies it.
  const varied = { ...config, policies: { ...config.policies, watch: false } }
  t.equal(varied.policies.watch, false)
  t.equal(unfrozen(validateConfig({}, site.dir)).length, 0, 'validateConfig freezes too')
})

t.test("loading plugins fills option defaults into the plugin's copy, never into the config", async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const config = loadConfig({ file: site.config })
  const before = structuredClone(config.plugins)
  const runtime = await createRuntime(config, { watch: true })
  t.teardown(() => runtime.close())
  const r = await runtime.engine.handle({ query: 'mac=00%3A11%3A22%3A33%3A44%3A55', remoteAddress: '192.0.2.7', requestId: 'r1' })
  t.same((r.record.context.plugins as Record<string, unknown>)['marker-facts'], { ready: true, note: 'filled by the schema' }, 'the plugin saw its default')
  t.same(config.plugins, before, 'the config did not')
  t.same(unfrozen(config), [])
})
