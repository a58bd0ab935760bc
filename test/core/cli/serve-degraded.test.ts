/**
 * Hazards of the real CLI (bin/bootpolicy.js → dist/; needs `npm run build`): a restart while a
 * policy is broken silently drops it; `serve --strict` starts anyway; /healthz says 200 to a
 * load balancer while degraded; stdout mixes plain banner lines and JSON lines with duplicate
 * keys. Real child processes, real HTTP, a strict JSON parser over every stdout line.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { storedDocument, withSuiteState } from '../../helpers/suite-state.js'
import { parseStrictJson } from '../../helpers/strict-json.js'
import { guardProcessGroup } from '../../helpers/group-guardian.js'

const GOOD = `import type { BootContext } from 'bootpolicy/policy'
export default (ctx: BootContext) => ({ kind: 'exit' as const, message: ctx.mac ? 'v1' : 'v1-nomac' })
`
const TYPO = `import type { BootContext } from 'bootpolicy/policy'
export default (ctx: BootContext) => (ctx.prodcut === undefined ? { kind: 'exit' as const, message: 'typo' } : undefined)
`

interface Serve {
  readonly child: ChildProcess
  out: string
  err: string
  readonly exited: Promise<number | null>
}

function serve(config: string, extra: string[] = []): Serve {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), 'serve', '--config', config, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  guardProcessGroup(child.pid)
  const s: Serve = {
    child,
    out: '',
    err: '',
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  }
  child.stdout!.on('data', (c: Buffer) => (s.out += c))
  child.stderr!.on('data', (c: Buffer) => (s.err += c))
  // The whole group, whatever happens: the wrapper's re-exec'd child must not outlive the test.
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 400_000)
  void s.exited.then(() => clearTimeout(timer))
  return s
}

/** The banner line, parsed; fails the test after 300 s without it (start-up type-checks; the machine is shared). */
async function banner(s: Serve): Promise<Record<string, unknown>> {
  const end = Date.now() + 300_000
  while (Date.now() < end) {
    const line = s.out.split('\n').find((l) => l.includes('"bootpolicy is serving'))
    if (line) return JSON.parse(line) as Record<string, unknown>
    if (s.child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no banner after 300 s; stdout: ${s.out.slice(-2000)} stderr: ${s.err.slice(-2000)}`)
}

async function stop(s: Serve): Promise<number | null> {
  s.child.kill('SIGTERM')
  return s.exited
}

const allStdout: string[] = []

// Child processes, type checks and reloads on a busy shared 2-core machine: minutes, not the 120 s default.
t.setTimeout(600_000)
t.test('a broken policy survives a restart; healthz ?strict answers 503; serve --strict refuses', async (t) => {
  const dir = tempPolicies({ '10-p.ts': GOOD })
  t.teardown(() => dir.remove())
  mkdirSync(join(dir.dir, 'tftp'))
  const config = join(dir.dir, 'bootpolicy.json')
  // BOOTPOLICY_TEST_STATE=postgres: the last good version survives the restart in the suite's database.
  const site = withSuiteState(
    {
      policies: { dir: 'policies' },
      templates: { dir: 'templates' },
      stateDir: 'state',
      http: { host: '127.0.0.1', port: 0 },
      // TFTP logs through a child logger: its lines must not repeat `service`.
      tftp: { enabled: true, port: 0, root: 'tftp' },
    } as Record<string, unknown>,
    dir.dir,
  )
  writeFileSync(config, JSON.stringify(site))
  const stored = { stateDir: join(dir.dir, 'state'), state: (site.state as { backend: string; url?: string } | undefined) ?? { backend: 'files' } }

  // 1. A good start: its version is stored.
  const first = serve(config)
  const b1 = await banner(first)
  const url1 = new URL(String(b1.url))
  t.equal(b1.status, 'ok')
  t.same(b1.lastGood, [])
  const boot1 = await (await fetch(`http://127.0.0.1:${url1.port}/boot?mac=52:54:00:00:00:01`)).text()
  t.equal(boot1.split('\n')[2], 'echo v1')
  t.equal((await fetch(`http://127.0.0.1:${url1.port}/healthz?strict`)).status, 200, 'healthy: ?strict answers 200')
  t.equal(await stop(first), 0, 'stops cleanly')
  t.match(await storedDocument(stored, 'policies/last-good.json', 'policies/last-good'), /"10-p\.ts"/, `its last good version is stored (${stored.state.backend})`)
  if (stored.state.backend === 'postgres') t.notOk(existsSync(join(stored.stateDir, 'policies')), 'and only in the database: the restart below reads it from there')
  allStdout.push(first.out)

  // 2. The policy gets a type error while the server is down; it restarts.
  dir.write('10-p.ts', TYPO)
  const second = serve(config)
  const b2 = await banner(second)
  const port = new URL(String(b2.url)).port
  t.equal(b2.status, 'degraded', 'the banner says degraded')
  const stale = (b2.lastGood as { policy: string; revision: string; since: string; from: string }[])[0]
  t.equal(stale?.policy, '10-p.ts', 'the banner names the policy serving its last good revision')
  t.equal(stale?.from, 'stateDir')
  t.match(stale?.revision, /^[0-9a-f]{12}$/)
  t.ok(Date.parse(stale!.since) <= Date.now() && Date.parse(stale!.since) > Date.now() - 10 * 60_000, `since ${stale?.since}`)
  t.match(String(b2.msg), /1 policy serves its last good revision/)
  const boot2 = await (await fetch(`http://127.0.0.1:${port}/boot?mac=52:54:00:00:00:02`)).text()
  t.equal(boot2.split('\n')[2], 'echo v1', 'the last good version answers, not the typo')
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.equal(health.status, 200, 'plain /healthz: 200')
  const report = (await health.json()) as { status: string; problems: { code: string; policy?: string }[]; stale: unknown[] }
  t.equal(report.status, 'degraded')
  t.ok(
    report.problems.some((p) => p.code === 'BP_ERR_POLICY_TYPE' && p.policy === '10-p.ts'),
    'the type error is listed',
  )
  t.ok(
    report.problems.some((p) => p.code === 'BPWRN009'),
    'and the stale policy',
  )
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz?strict`)).status, 503, '?strict: 503')
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz?strict=1`)).status, 503, '?strict=1: 503')
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz?strict=0`)).status, 200, '?strict=0: 200')
  t.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^bootpolicy_policies_stale 1$/m)
  t.equal(await stop(second), 0)
  t.ok(
    second.out.split('\n').some((l) => l.includes('"code":"BPWRN009"')),
    'BPWRN009 in the log',
  )
  allStdout.push(second.out)

  // 3. --strict refuses the same state, before binding anything.
  const third = serve(config, ['--strict'])
  const code = await third.exited
  t.equal(code, 1, 'serve --strict exits 1')
  t.match(third.err, /BP_ERR_SERVER_DEGRADED: Refusing to start degraded \(--strict\): .*10-p\.ts: BP_ERR_POLICY_TYPE/)
  t.notMatch(third.out, /http listening/, 'it never listened')
  allStdout.push(third.out)
})

t.test('stdout is JSON lines only, each key once (strict parser)', async (t) => {
  const lines = allStdout
    .join('')
    .split('\n')
    .filter((l) => l.length > 0)
  t.ok(lines.length >= 10, `${lines.length} lines from three runs`)
  const bad: string[] = []
  for (const line of lines) {
    try {
      const v = parseStrictJson(line)
      if (!v || typeof v !== 'object' || Array.isArray(v)) bad.push(`not an object: ${line}`)
    } catch (err) {
      bad.push(`${(err as Error).message}`)
    }
  }
  t.same(bad, [], 'every line parses strictly')
  t.ok(
    lines.some((l) => l.includes('"service":"tftp"')),
    'the TFTP child logger line is among them',
  )
})
