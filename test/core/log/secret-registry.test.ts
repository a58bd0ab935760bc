/**
 * The secret registry's bounds: a password a backend is using is scrubbed until its call ends and
 * a while after, a held one is never evicted, the kept ones are bounded, and a trusted secret is
 * scrubbed from the moment it is registered (before any pattern is rebuilt).
 */
import t from 'tap'
import { holdRequestSecret, registerSecret, scrubSecrets, secretCounts } from '../../../core/log/secret-registry.js'

t.test('held passwords are scrubbed while the backend runs and after; the kept ones are bounded', async (t) => {
  const release = holdRequestSecret('held-password-1')
  const others = Array.from({ length: 300 }, (_, i) => `other-password-${i}`)
  for (const pw of others) holdRequestSecret(pw)()
  t.equal(scrubSecrets('echo: held-password-1 failed'), 'echo: [redacted] failed', 'held: not evicted by 300 others')
  t.equal(scrubSecrets('held-password-1', true), 'held-password-1', 'not scrubbed from the constant vocabulary')
  release()
  t.equal(scrubSecrets('late: held-password-1'), 'late: [redacted]', 'still scrubbed once released')
  t.equal(scrubSecrets(JSON.stringify('a"b\\c-pw')), JSON.stringify('a"b\\c-pw'), 'nothing registered, nothing scrubbed')
  holdRequestSecret('a"b\\c-pw')()
  t.equal(scrubSecrets(JSON.stringify('x a"b\\c-pw')), '"x [redacted]"', 'the JSON-escaped form is scrubbed')
  t.equal(scrubSecrets(`u=${encodeURIComponent('p w&x')}`), 'u=p%20w%26x', 'before registration')
  holdRequestSecret('p w&x')()
  t.equal(scrubSecrets(`u=${encodeURIComponent('p w&x')}`), 'u=[redacted]', 'the URL-encoded form is scrubbed')
  const counts = secretCounts()
  t.equal(counts.requestHeld, 0, 'nothing is held once every call ended')
  t.ok(counts.requestRecent <= 64, `at most 64 forms kept (${counts.requestRecent})`)
  t.equal(scrubSecrets('other-password-0'), 'other-password-0', 'the oldest kept passwords were forgotten')
})

t.test('a trusted secret is scrubbed at once, and registering many does not rebuild per secret', async (t) => {
  registerSecret('chap-first-secret')
  t.equal(scrubSecrets('x chap-first-secret y', true), 'x [redacted] y')
  const t0 = performance.now()
  for (let i = 0; i < 2000; i++) {
    registerSecret(`chap-${i}-${'k'.repeat(64)}`)
    scrubSecrets(`line ${i} chap-${i}-${'k'.repeat(64)}`)
  }
  const ms = performance.now() - t0
  t.equal(scrubSecrets(`z chap-1999-${'k'.repeat(64)} z`, true), 'z [redacted] z', 'the newest is scrubbed')
  t.equal(scrubSecrets('x chap-first-secret y', true), 'x [redacted] y', 'the first still is')
  t.ok(ms < 2000, `2,000 registrations, each followed by a scrub, took ${ms.toFixed(0)} ms (< 2 s)`)
})
