/**
 * The operator session store on its own, with a clock the test moves (idle and absolute lifetimes
 * of minutes cannot be waited for): token shape and strength, only the hash kept, idle time
 * restarted by use, the absolute cap, logout, and the bound on sessions.
 */
import t from 'tap'
import { OperatorSessions } from '../../../core/auth/operator-sessions.js'
import { scrubSecrets } from '../../../core/log/secret-registry.js'

const clock = () => {
  let now = 1_000_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

t.test('a token is 256 random bits behind a prefix, scrubbed from logs, and only its hash is kept', async (t) => {
  const c = clock()
  const s = new OperatorSessions({ idleMs: 60_000, maxAgeMs: 3_600_000, maxSessions: 10 }, c.now)
  const a = s.create('alice')
  const b = s.create('alice')
  t.match(a.token, /^bps_[A-Za-z0-9_-]{43}$/)
  t.not(a.token, b.token)
  t.equal(Buffer.from(a.token.slice(4), 'base64url').length, 32)
  t.equal(scrubSecrets(`x ${a.token} y`), 'x [redacted] y', 'the log scrubber knows the token')
  const kept = JSON.stringify([...(s as unknown as { byHash: Map<string, unknown> }).byHash])
  t.notOk(kept.includes(a.token.slice(4)), 'the store holds no token')
  t.equal(s.use(a.token)?.user, 'alice')
  t.equal(s.use(`${a.token.slice(0, -1)}${a.token.endsWith('A') ? 'B' : 'A'}`), undefined, 'one character off')
  t.equal(s.use('bps_short'), undefined)
  t.equal(s.use(''), undefined)
})

t.test('idle sessions end; use restarts the idle clock; the absolute lifetime ends a busy one', async (t) => {
  const c = clock()
  const s = new OperatorSessions({ idleMs: 60_000, maxAgeMs: 300_000, maxSessions: 10 }, c.now)
  const busy = s.create('alice').token
  const idle = s.create('bob').token
  for (let i = 0; i < 4; i++) {
    c.advance(59_000)
    t.ok(s.use(busy), `used after ${(i + 1) * 59} s`)
  }
  t.equal(s.use(idle), undefined, 'unused for 236 s: ended')
  c.advance(59_000) // 295 s after login
  t.ok(s.use(busy))
  c.advance(5_000) // 300 s
  t.equal(s.use(busy), undefined, 'the absolute lifetime ends it however busy')
  t.equal(s.size, 0, 'expired sessions are dropped when met')
})

t.test('logout ends a session once; the store is bounded (expired first, then the oldest)', async (t) => {
  const c = clock()
  const s = new OperatorSessions({ idleMs: 60_000, maxAgeMs: 3_600_000, maxSessions: 3 }, c.now)
  const first = s.create('a').token
  t.equal(s.end(first), true)
  t.equal(s.end(first), false)
  t.equal(s.use(first), undefined)
  const held = s.create('held')
  t.equal(s.stillLive(held.session), true, 'a session held by a stream is live')
  s.end(held.token)
  t.equal(s.stillLive(held.session), false, 'and ends with logout')
  const old = s.create('old').token
  c.advance(61_000)
  const [x, y] = [s.create('x').token, s.create('y').token]
  t.equal(s.size, 3)
  const z = s.create('z').token
  t.equal(s.size, 3)
  t.equal(s.use(old), undefined, 'the expired one went first')
  const xSession = s.use(x)!
  const w = s.create('w').token
  t.equal(s.size, 3)
  t.equal(s.use(x), undefined, 'then the oldest')
  t.equal(s.stillLive(xSession), false, 'an evicted session ends for whoever holds it')
  t.ok(s.use(y) && s.use(z) && s.use(w))
  for (let i = 0; i < 1000; i++) s.create(`flood${i}`)
  t.equal(s.size, 3, 'a flood of logins stays within maxSessions')
})
