/**
 * Start-up and read-only promises of the shared runtime: a silent logger opens no writer, the
 * plugin registry is built once, and `bootpolicy explain` writes nothing to stateDir (it reads the
 * last-good store, the server writes it).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { createLogger, flushLogger } from '../../../core/log/logger.js'
import { PluginRegistry } from '../../../core/plugins/plugin-registry.js'
import { createRuntime } from '../../../core/runtime/create-runtime.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { storedDocument } from '../../helpers/suite-state.js'

t.setTimeout(300_000)

t.test("createLogger('silent') opens no background writer, and still logs nothing and flushes", async (t) => {
  const logger = createLogger('silent')
  const stream = (logger as unknown as Record<symbol, { constructor: { name: string }; writer?: unknown }>)[pino.symbols.streamSym]
  t.not(stream?.constructor.name, 'SonicBoom', 'no SonicBoom on stdout')
  t.equal(stream?.writer, undefined, 'nor one behind a coalescing destination')
  logger.error({ secret: 'x' }, 'not written')
  await flushLogger(logger)
  const info = createLogger('info')
  // stdout's destination hands its lines to a SonicBoom (core/log/coalesced-destination.ts).
  t.equal((info as unknown as Record<symbol, { writer?: { constructor: { name: string } } }>)[pino.symbols.streamSym]?.writer?.constructor.name, 'SonicBoom', 'a logging level still writes to stdout')
})

t.test('the plugin registry is built once at start-up (each plugin registered once)', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const add = PluginRegistry.prototype.add
  const seen: string[] = []
  PluginRegistry.prototype.add = function (this: PluginRegistry, plugin) {
    seen.push(plugin.name) // instrumentation, not a mock: the real add runs
    return add.call(this, plugin)
  }
  t.teardown(() => {
    PluginRegistry.prototype.add = add
  })
  for (const name of ['first', 'second']) {
    writeFileSync(join(dir.dir, `${name}.mjs`), `export default () => ({ name: '${name}', version: '1.0.0', bootpolicy: '>=0.0.0', hooks: { enrich: () => ({ n: 1 }) }, revision: () => '1' })`)
  }
  const config = dir.config({
    stateDir: join(dir.dir, 'var'),
    plugins: [
      { name: 'first', path: join(dir.dir, 'first.mjs') },
      { name: 'second', path: join(dir.dir, 'second.mjs') },
    ],
  })
  const runtime = await createRuntime(config, { watch: false, logger: createLogger('silent') })
  t.teardown(() => runtime.close())
  t.same(seen, ['first', 'second'], 'each plugin checked and registered once')
  t.same(
    runtime.plugins.registry.plugins.map((p) => p.name),
    ['first', 'second'],
    'the host runs on that registry',
  )
  t.ok(runtime.plugins.cacheable, 'its answers are those of the plugins (declared revisions: cacheable)')
})

t.test('bootpolicy explain writes nothing to stateDir; serve-side loading does', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: { mac?: string }) => ({ kind: 'exit', message: 'hello ' + (ctx.mac ?? '') })` })
  t.teardown(() => dir.remove())
  const configFile = join(dir.dir, 'bootpolicy.json')
  writeFileSync(configFile, JSON.stringify({ policies: { dir: 'policies', watch: false }, stateDir: 'var', log: { level: 'silent' } }))
  const r = spawnSync(process.execPath, ['--no-node-snapshot', join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'explain', '--config', configFile, '--mac', '52:54:00:00:00:01'], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /decided by: policy:p\.ts/)
  t.notOk(existsSync(join(dir.dir, 'var', 'policies')), `explain wrote no last-good store (${existsSync(join(dir.dir, 'var')) ? readdirSync(join(dir.dir, 'var')).join(',') : 'no var/'})`)
  // The same config in a runtime that serves writes the store: the check above can fail.
  // (With BOOTPOLICY_TEST_STATE=postgres, that runtime's store is the shared index document.)
  const config = dir.config({ stateDir: join(dir.dir, 'var') })
  const runtime = await createRuntime(config, { watch: false })
  await runtime.close()
  t.ok(await storedDocument(config, 'policies/last-good.json', 'policies/last-good'), 'a serving runtime writes its last-good index')
})
