/**
 * Login limits under parallel bursts: 100 guesses sent at once reach a backend at most `perUser`
 * times for one user and `perAddress` times for one address — with a deliberately slow backend
 * (a test plugin whose authenticate sleeps, or waits for the test to release it), with an outage,
 * with a backend slower than the hook timeout, and with the real slapd.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { BASE_DN, startSlapd } from '../../helpers/slapd.js'
import { waitUntil } from '../../helpers/wait-until.js'

const POLICY = `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })`
const shown = (body: string): { status: string; reason?: string } =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  ) as { status: string; reason?: string }

type App = Awaited<ReturnType<typeof build>>

interface SlowState {
  calls: number
  running: number
  maxRunning: number
  /** Lets every attempt waiting at the gate (and every later one) go on. */
  release(): void
}

async function slowApp(t: { teardown(fn: () => unknown): void }, sleepMs: number | 'gate', overrides: Record<string, unknown> = {}) {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'slow.mjs')
  // A backend that takes `sleepMs` per attempt, or with 'gate' waits until state.release(): refuses
  // every password, or fails (an outage) for users named down*.
  writeFileSync(
    file,
    `
    let open
    const gate = new Promise((r) => (open = r))
    const state = { calls: 0, running: 0, maxRunning: 0, release: () => open() }
    globalThis.__bpSlow = state
    export default () => ({ name: 'slow', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => {
        state.calls++; state.running++; state.maxRunning = Math.max(state.maxRunning, state.running)
        await ${sleepMs === 'gate' ? 'gate' : `new Promise((r) => setTimeout(r, ${sleepMs}))`}
        state.running--
        if (c.username.startsWith('down')) throw new Error('backend down')
        return { failed: 'wrong password' }
      } } })`,
  )
  // The gate, not the default 5 s hook timeout, ends an attempt: a burst may take that long to send.
  const timeouts = sleepMs === 'gate' ? { pluginTimeouts: { hookMs: 300_000 } } : {}
  const bp = await build(dir.config({ plugins: [{ name: 'slow', path: file }], ...timeouts, ...overrides }), { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const state = (): SlowState => (globalThis as unknown as { __bpSlow: SlowState }).__bpSlow
  return { bp, state }
}

/** 100 logins at once; `user(i)` names the user of guess i; `progress.answered` counts the answers so far. */
async function burst(bp: App, user: (i: number) => string, remoteAddress: string, progress = { answered: 0 }): Promise<Array<{ status: string; reason?: string }>> {
  return Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const answer = shown((await bp.app.inject({ url: `/boot?username=${user(i)}&password=guess${i}`, remoteAddress })).body)
      progress.answered++
      return answer
    }),
  )
}

/** Waits (60 s at most) until each of a burst's 100 guesses is answered or inside the gated backend. */
async function dispatched(progress: { answered: number }, state: () => SlowState): Promise<void> {
  if (!(await waitUntil(() => progress.answered + state().running >= 100, 60_000, 10))) {
    throw new Error(`burst not dispatched: ${progress.answered} answered, ${state().running} in the backend`)
  }
}

t.test('hazard: parallel login guesses bypass the rate limits (slow backend, one user)', async (t) => {
  const { bp, state } = await slowApp(t, 300)
  const answers = await burst(bp, () => 'alice', '192.0.2.10')
  t.equal(state().calls, 5, '100 parallel guesses for one user: at most perUser (5) backend calls')
  t.equal(answers.filter((a) => a.reason === 'wrong password').length, 5)
  t.ok(answers.filter((a) => /^too many (failed attempts|login attempts in progress)/.test(a.reason ?? '')).length === 95, 'the rest are told they are limited')
  const after = shown((await bp.app.inject({ url: '/boot?username=alice&password=x', remoteAddress: '192.0.2.99' })).body)
  t.match(after.reason, /^too many failed attempts, retry in/, 'the 5 refusals filled the window')
  t.equal(state().calls, 5)
})

t.test('hazard: parallel login guesses bypass the rate limits (slow backend, one address, many users)', async (t) => {
  const { bp, state } = await slowApp(t, 300)
  await burst(bp, (i) => `user${i}`, '192.0.2.20')
  t.equal(state().calls, 20, '100 parallel guesses from one address: at most perAddress (20) backend calls')
  t.ok(state().maxRunning <= 20)
})

t.test('hazard: an outage lets a parallel burst through (errors are not failures, but stay in flight)', async (t) => {
  // The outage answers only once the whole burst is in (a 200 ms one answered during a burst
  // slowed by a loaded host, and later guesses rightly took the freed reservations).
  const { bp, state } = await slowApp(t, 'gate')
  const progress = { answered: 0 }
  const sent = burst(bp, () => 'down1', '192.0.2.30', progress)
  await dispatched(progress, state)
  state().release()
  const answers = await sent
  t.equal(state().calls, 5, 'at most perUser backend calls during the burst')
  t.equal(answers.filter((a) => a.reason === 'authentication service unavailable').length, 5)
  // Outages are not counted: once the burst is over the user may try again.
  t.match(shown((await bp.app.inject({ url: '/boot?username=down1&password=x', remoteAddress: '192.0.2.31' })).body), { reason: 'authentication service unavailable' })
  t.equal(state().calls, 6)
})

t.test('hazard: a backend slower than the hook timeout keeps its reservations until it really ends', async (t) => {
  // The backend calls end when the test releases them, not after 1500 ms, which two bursts could
  // outlast on a loaded host.
  const { bp, state } = await slowApp(t, 'gate', { pluginTimeouts: { hookMs: 100 } })
  const first = await burst(bp, () => 'down2', '192.0.2.40')
  t.equal(first.filter((a) => a.reason === 'authentication service unavailable').length, 5, 'five timed out')
  t.equal(state().running, 5, 'their backend calls are still running')
  await burst(bp, () => 'down2', '192.0.2.41')
  t.equal(state().calls, 5, 'a second burst after the timeouts reaches no backend')
  state().release()
  await waitUntil(() => state().running === 0, 60_000, 10)
  t.equal(state().running, 0)
  await bp.app.inject({ url: '/boot?username=down2&password=x', remoteAddress: '192.0.2.42' })
  t.equal(state().calls, 6, 'once they ended, the user may try again')
})

t.test('hazard: parallel login guesses bypass the rate limits (real slapd)', async (t) => {
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'ldap', options: { url: slapd.url, bindDn: `uid={username},ou=people,${BASE_DN}` } }] }), { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const refused = (answers: Array<{ reason?: string }>): number => answers.filter((a) => a.reason === 'unknown user or wrong password').length

  const oneUser = await burst(bp, () => 'alice', '192.0.2.50')
  t.ok(refused(oneUser) <= 5, `one user: ${refused(oneUser)} guesses reached slapd (at most 5)`)
  t.ok(refused(oneUser) >= 1)
  const oneAddress = await burst(bp, (i) => `nobody${i}`, '192.0.2.51')
  t.ok(refused(oneAddress) <= 20, `one address: ${refused(oneAddress)} guesses reached slapd (at most 20)`)
  t.ok(refused(oneAddress) >= 1)
  t.match(
    shown((await bp.app.inject({ url: `/boot?username=alice&password=${slapd.users.alice.password}`, remoteAddress: '192.0.2.52' })).body),
    { status: 'failed', reason: /^too many failed attempts/ },
    'alice stays limited even with her real password',
  )
})
