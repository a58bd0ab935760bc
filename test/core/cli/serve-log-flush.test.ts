/**
 * The decision log is written in the background (core/log/logger.ts): a server stopped by SIGTERM
 * right after answering must still have written one decision line for every request it answered,
 * and a fatal exit must still write its last lines. The real CLI (bin/bootpolicy.js → dist/);
 * needs `npm run build`.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync, mkdirSync, chmodSync } from 'node:fs'
import { Agent, get } from 'node:http'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { withSuiteState } from '../../helpers/suite-state.js'
import { guardProcessGroup } from '../../helpers/group-guardian.js'

function writeConfig(dir: string, body: Record<string, unknown>): string {
  const file = join(dir, 'config.json')
  // BOOTPOLICY_TEST_STATE=postgres: the state section of the suite's database for this stateDir.
  writeFileSync(file, JSON.stringify(withSuiteState({ policies: { dir: 'policies' }, templates: { dir: 'templates' }, stateDir: 'state', http: { host: '127.0.0.1', port: 0 }, ...body }, dir)))
  return file
}

function fetchText(agent: Agent, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve(body))
    }).on('error', reject)
  })
}

/** Starts `serve`, runs `whileUp(port)` once it listens, then SIGTERMs it; resolves with its output. */
function serve(config: string, whileUp: (port: number, kill: () => void) => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    guardProcessGroup(child.pid)
    let out = ''
    let err = ''
    let started = false
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000)
    child.stdout.on('data', (c: Buffer) => {
      out += c
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
      if (m && !started) {
        started = true
        whileUp(Number(m[1]), () => child.kill('SIGTERM')).catch(reject)
      }
    })
    child.stderr.on('data', (c: Buffer) => (err += c))
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

const decisionLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; reqId?: string; level: number })
    .filter((l) => l.msg === 'decision')

t.test('hazard: SIGTERM right after a burst of answers loses decision lines that were still buffered', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ctx.mac === '52:54:00:00:00:07' ? { kind: 'reboot' } : undefined` })
  t.teardown(() => dir.remove())
  const N = 600
  const ids = new Set<string>()
  const r = await serve(writeConfig(dir.dir, {}), async (port, kill) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 })
    const bodies = await Promise.all(
      Array.from({ length: N }, (_, i) => fetchText(agent, `http://127.0.0.1:${port}/boot?mac=52-54-00-00-${(i >> 8).toString(16).padStart(2, '0')}-${(i & 255).toString(16).padStart(2, '0')}`)),
    )
    for (const b of bodies) ids.add(/set bp-req (\w+)/.exec(b)![1]!)
    agent.destroy()
    kill() // at once: most lines are still in the background writer's buffer
  })
  t.equal(r.code, 0, `clean exit (${r.err.slice(0, 200)})`)
  t.equal(ids.size, N, `${N} distinct answers`)
  const lines = decisionLines(r.out)
  t.equal(lines.length, N, 'one decision line per answered request')
  t.same(new Set(lines.map((l) => l.reqId)), ids, 'for exactly the requests answered')
})

t.test('hazard: a fatal exit loses the lines buffered before it', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => undefined` })
  t.teardown(() => dir.remove())
  const pluginDir = join(dir.dir, 'crash')
  mkdirSync(pluginDir)
  // The 20th request's onRequest throws from a timer: an uncaught exception, the fatal path.
  writeFileSync(
    join(pluginDir, 'index.js'),
    `let n = 0
export default () => ({ name: 'crash', version: '1.0.0', bootpolicy: '>=0.1.0', schema: { type: 'object' },
  hooks: { async onRequest() { if (++n === 20) setTimeout(() => { throw new Error('crash after start') }, 50) } } })`,
  )
  chmodSync(pluginDir, 0o755)
  const r = await serve(writeConfig(dir.dir, { plugins: [{ name: 'crash', path: 'crash/index.js' }] }), async (port) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    for (let i = 0; i < 20; i++) await fetchText(agent, `http://127.0.0.1:${port}/boot?mac=52-54-00-00-00-${i.toString(16).padStart(2, '0')}`)
    agent.destroy()
  })
  t.equal(r.code, 1, 'the fatal exit code')
  t.equal(decisionLines(r.out).length, 20, 'all 20 decision lines written')
  t.ok(
    r.out.split('\n').some((l) => l.includes('"level":60') && l.includes('fatal error; exiting')),
    'and the fatal line',
  )
})
