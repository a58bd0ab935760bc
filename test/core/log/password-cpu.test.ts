/**
 * Passwords as a CPU amplifier: anybody may send `password=` to /boot. Each new password used to
 * rebuild the logger's combined scrub pattern (up to 1,024 × 3 forms) on the next log line, so a
 * burst of new passwords blocked the event loop for everybody. Now a password is registered only
 * once the login limiter admits the attempt, and registrations never rebuild a pattern.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { get, idleP99, p99, startProbe } from '../../helpers/latency-probe.js'

const newPassword = (len: number): string => (randomBytes(len).toString('base64url') + 'x'.repeat(len)).slice(0, len)

t.test('hazard: new passwords on /boot block the event loop (scrub pattern rebuilt per password)', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: ctx.auth.status })` })
  t.teardown(() => dir.remove())
  // A backend that fails with the password in its error message: it must still be scrubbed.
  const file = join(dir.dir, 'echo.mjs')
  writeFileSync(
    file,
    `export default () => ({ name: 'echo', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
    authenticate: async (ctx, c) => { throw new Error('backend said: bad password ' + c.password) } } })`,
  )
  const logs = captureLogs('info')
  const bp = await build(dir.config({ plugins: [{ name: 'echo', path: file }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (bp.app.server.address() as AddressInfo).port

  const healthz = (): string => '/healthz'
  const idle = await idleP99(port, healthz)
  const probe = startProbe(port, healthz)
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const sent: string[] = []
  const t0 = performance.now()
  // 200 requests, each with a new password: 256 bytes with a username (an attempt), 2 KiB
  // (too long: refused) and 256 bytes without a username (no attempt at all).
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const pw = newPassword(i % 3 === 1 ? 2048 : 256)
      if (i % 3 === 0) sent.push(pw)
      const user = i % 3 === 2 ? '' : `&username=u${i}`
      return get(port, `/boot?mac=52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}${user}&password=${encodeURIComponent(pw)}`, agent, 60_000)
    }),
  )
  const totalMs = performance.now() - t0
  const during = await probe.stop()
  agent.destroy()
  const bound = Math.max(2 * idle, 250)
  t.ok(p99(during) <= bound, `/healthz p99 during the burst ${p99(during).toFixed(1)} ms ≤ ${bound.toFixed(0)} ms (idle p99 ${idle.toFixed(1)} ms)`)
  t.ok(totalMs < 5000, `200 requests answered in ${totalMs.toFixed(0)} ms (< 5 s)`)
  t.ok(
    logs.lines.some((l) => l.includes('backend said')),
    'the backend error (which carried a password) was logged',
  )
  const leaked = sent.filter((pw) => logs.lines.some((l) => l.includes(pw) || l.includes(encodeURIComponent(pw))))
  t.same(leaked, [], `none of the ${sent.length} passwords sent to a backend is in the ${logs.lines.length} log lines`)
})
