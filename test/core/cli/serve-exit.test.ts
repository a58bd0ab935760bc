/**
 * Hazard: `serve` prints a fatal error and keeps running, so a supervisor never restarts it.
 * The real CLI (bin/bootpolicy.js → its --no-node-snapshot re-exec → dist/) must exit non-zero,
 * promptly, with the error on stderr or in the log. Needs `npm run build` (dist/).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { get } from 'node:http'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { withSuiteState } from '../../helpers/suite-state.js'
import { guardProcessGroup } from '../../helpers/group-guardian.js'

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  out: string
  err: string
  ms: number
}

/** Run `bootpolicy serve` (killed, with its group, after `limitMs`); `onOutput` sees stdout until it returns true. */
function serve(config: string, limitMs = 30_000, onOutput?: (out: string) => boolean): Promise<Run & { timedOut: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    guardProcessGroup(child.pid)
    let out = ''
    let err = ''
    let seen = !onOutput
    child.stdout.on('data', (c: Buffer) => {
      out += c
      if (!seen) seen = onOutput!(out)
    })
    child.stderr.on('data', (c: Buffer) => (err += c))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      // The whole group: the wrapper's re-exec'd child would otherwise live on holding the pipes.
      process.kill(-child.pid!, 'SIGKILL')
    }, limitMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, err, ms: Date.now() - started, timedOut })
    })
  })
}

/** How long the CLI takes to start and exit at all on this (possibly busy) machine: `help`. */
async function startupMs(): Promise<number> {
  const started = Date.now()
  await new Promise((resolve) => spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'help'], { stdio: 'ignore' }).on('close', resolve))
  return Date.now() - started
}

function listenTaken(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => resolve(s))
  })
}

function writeConfig(dir: string, body: Record<string, unknown>): string {
  const file = join(dir, `config-${Math.random().toString(16).slice(2)}.json`)
  // BOOTPOLICY_TEST_STATE=postgres: the state section of the suite's database for this stateDir.
  writeFileSync(file, JSON.stringify(withSuiteState({ policies: { dir: 'policies' }, templates: { dir: 'templates' }, stateDir: 'state', ...body }, dir)))
  return file
}

t.test('hazard: serve keeps running after a fatal error — port already in use', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const taken = await listenTaken()
  t.teardown(() => taken.close())
  const port = (taken.address() as { port: number }).port
  const baseline = await startupMs()
  const r = await serve(writeConfig(dir.dir, { http: { host: '127.0.0.1', port } }), 30_000)
  t.notOk(r.timedOut, `serve exited on its own (after ${r.ms} ms)`)
  t.equal(r.code, 1, 'exit code 1')
  // serve loads and compiles the policies before it binds: on a loaded host that alone took twice `help`. The hazard (never exiting) is the 30 s guard above; this bound only says "promptly".
  t.ok(r.ms < 3 * baseline + 5000, `within 3× a bare CLI start + 5 s (${r.ms} ms; \`help\` took ${baseline} ms)`)
  t.match(r.err, new RegExp(`BP_ERR_SERVER_LISTEN: Cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`))
})

t.test('hazard: serve keeps running after a fatal error — invalid default decision', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const r = await serve(writeConfig(dir.dir, { http: { host: '127.0.0.1', port: 0 }, default: { kind: 'bogus' } }))
  t.notOk(r.timedOut, `serve exited on its own (after ${r.ms} ms)`)
  t.equal(r.code, 2, 'exit code 2 (configuration)')
  t.match(r.err, /BP_ERR_CONFIG_INVALID: Invalid configuration: default: .*unknown decision kind "bogus"/)
})

t.test('hazard: serve keeps running after a fatal error — unreadable config', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const missing = await serve(join(dir.dir, 'missing.json'))
  t.equal(missing.code, 2, 'missing config: exit code 2')
  t.match(missing.err, /BP_ERR_CONFIG_READ/)
  const broken = join(dir.dir, 'broken.json')
  writeFileSync(broken, '{ not json')
  const bad = await serve(broken)
  t.equal(bad.code, 2, 'config that is not JSON: exit code 2')
  t.match(bad.err, /BP_ERR_CONFIG_READ/)
})

t.test('hazard: serve keeps running after a fatal error — uncaught exception after start', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const pluginDir = join(dir.dir, 'crashing-plugin')
  mkdirSync(pluginDir)
  // A real plugin that starts fine and, on the first /boot request, throws from a timer: nothing catches that.
  writeFileSync(
    join(pluginDir, 'index.js'),
    `export default () => ({ name: 'crasher', version: '1.0.0', bootpolicy: '>=0.1.0', schema: { type: 'object' },
      hooks: { async onRequest() { setTimeout(() => { throw new Error('crash after start') }, 0) } } })`,
  )
  chmodSync(pluginDir, 0o755)
  const running = serve(writeConfig(dir.dir, { http: { host: '127.0.0.1', port: 0 }, plugins: [{ name: 'crasher', path: 'crashing-plugin/index.js' }] }), 30_000, (out) => {
    const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
    if (m) get(`http://127.0.0.1:${m[1]}/boot?mac=52:54:00:00:00:01`, (res) => res.resume()).on('error', () => undefined)
    return Boolean(m)
  })
  const r = await running
  t.notOk(r.timedOut, `serve exited on its own (after ${r.ms} ms)`)
  t.equal(r.code, 1, 'exit code 1')
  t.match(r.out, /bootpolicy is serving/, 'it had started')
  const fatal = r.out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } })
    .find((l) => l.level === 60)
  t.equal(fatal?.msg, 'fatal error; exiting')
  t.equal(fatal?.err?.message, 'crash after start')
})

t.test("hazard: kill -9 of the wrapper leaves its re-exec'd server running, holding the ports", async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = writeConfig(dir.dir, { http: { host: '127.0.0.1', port: 0 } })
  const wrapper = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  guardProcessGroup(wrapper.pid)
  t.teardown(() => {
    try {
      process.kill(-wrapper.pid!, 'SIGKILL')
    } catch {}
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 60 s; output:\n${out}`)), 60_000)
    wrapper.stdout.on('data', (c: Buffer) => {
      out += c
      if (/serving http:\/\/127\.0\.0\.1:\d+\//.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  const children = readFileSync(`/proc/${wrapper.pid}/task/${wrapper.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  t.equal(children.length, 1, 'the wrapper runs one child: the server')
  const server = children[0]!
  const alive = (): boolean => {
    try {
      process.kill(server, 0)
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${server}/status`, 'utf8'))
    } catch {
      return false
    }
  }
  t.ok(alive(), 'the server runs')
  process.kill(wrapper.pid!, 'SIGKILL')
  const deadline = Date.now() + 30_000
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  t.notOk(alive(), 'the server stopped by itself once its wrapper was killed (within 30 s)')
})
