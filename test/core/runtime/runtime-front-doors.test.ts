/**
 * The runtime as the CLI uses it, in child processes started from source: explain, check and test
 * never import fastify (a resolve hook makes any such import fail), check and test set no plugin
 * up, explain sets up only the plugin its decision depends on, and a closed runtime leaves no
 * handle behind (the child exits on its own; the same child without close() does not).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { markerSite } from '../../helpers/marker-site.js'

// Each case starts node with TypeScript from source and isolated-vm on a busy 2-core machine.
t.setTimeout(600_000)

const fixtures = join(PACKAGE_ROOT, 'test/fixtures/runtime')
const refuseFastify = pathToFileURL(join(fixtures, 'refuse-fastify.mjs')).href

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  out: string
  err: string
  ms: number
}

/** Runs a fixture script under tsx (and the fastify guard); kills it after `limitMs`. */
function run(script: string, args: string[], limitMs = 120_000): Promise<Run> {
  const t0 = Date.now()
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', '--import', refuseFastify, join(fixtures, script), ...args], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b))
  child.stderr.on('data', (b: Buffer) => (err += b))
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, err, ms: Date.now() - t0 })
    }),
  )
}

t.test('the fastify guard really refuses: serve, which needs fastify, fails under it', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const r = await run('cli-entry.ts', ['serve', '--config', site.config])
  t.not(r.code, 0)
  t.match(r.err, /REFUSED: fastify was imported/)
  t.same(site.markers(), [], 'serve stopped at the import, before any plugin')
})

t.test('bootpolicy explain runs without fastify and sets up only the plugin its decision depends on', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const r = await run('cli-entry.ts', ['explain', '--config', site.config, '--mac', '00:11:22:33:44:55'])
  t.equal(r.code, 0, r.err)
  t.notMatch(r.err, /REFUSED/)
  t.match(r.out, /^decided by: policy:p\.ts$/m)
  t.match(r.out, /^kind: marker-provisioner\.disk$/m)
  t.match(r.out, /^echo provisioned disk d1$/m, 'the kind of the plugin that was not set up still renders')
  // marker-facts (enrich) was set up and closed; marker-provisioner (prepare) neither set up, nor prepared, nor closed.
  t.same(site.markers(), ['facts.setup', 'facts.close'])
})

t.test('bootpolicy check and test run without fastify and set up no plugin', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const check = await run('cli-entry.ts', ['check', '--config', site.config])
  t.equal(check.code, 0, check.out + check.err)
  t.notMatch(check.err, /REFUSED/)
  t.same(site.markers(), [], 'check: no setup, no close')
  const test = await run('cli-entry.ts', ['test', '--config', site.config])
  t.equal(test.code, 0, test.out + test.err)
  t.match(test.out, /^PASS {2}p\.ts: no facts: exit$/m)
  t.same(site.markers(), [], 'test: no setup, no close')
})

t.test('a closed runtime leaves no handle: the child exits on its own; without close() it does not', async (t) => {
  const site = markerSite()
  t.teardown(() => site.remove())
  const closed = await run('runtime-child.ts', [site.config, 'close'])
  t.equal(closed.signal, null, `exited on its own (after ${closed.ms} ms)`)
  t.equal(closed.code, 0, closed.err)
  // Online: both plugins set up, the policy decided from marker-facts' enrich, prepare ran.
  t.equal(closed.out, 'policy:p.ts marker-provisioner.disk\n')
  t.same(site.markers(), ['facts.setup', 'facts.close', 'prov.setup', 'prov.prepare', 'prov.close'])
  site.clearMarkers()
  // The control: watchers, workers and plugins left open keep the child alive well past its answer.
  const kept = await run('runtime-child.ts', [site.config, 'keep'], Math.max(15_000, closed.ms * 2))
  t.equal(kept.out, 'policy:p.ts marker-provisioner.disk\n', kept.err)
  t.equal(kept.signal, 'SIGKILL', 'without close() the runtime keeps the process alive')
  t.same(site.markers(), ['facts.setup', 'prov.setup', 'prov.prepare'])
})
