import t from 'tap'
import { serveForCli } from '../../helpers/cli-server.js'
import { runCliAsync } from '../../helpers/site-dir.js'

const ADMIN = 'cli-intent-admin-token-0123456789'
// Eleven CLI starts on a loaded 2-core machine.
t.setTimeout(600_000)

t.test('set, list, clear through the CLI; errors exit 1 with the code', async (t) => {
  const { dir, address, run } = await serveForCli(t, ADMIN)

  const set = await run('intent', 'set', 'mac:52-54-00-AA-BB-01', '--profile', 'debian-12', '--expires', '2h', '--note', 'new disk')
  t.equal(set.code, 0, set.err)
  t.match(set.out, /^mac:52:54:00:aa:bb:01 profile debian-12 — armed, expires \S+ — set by .*\(admin token\) at \S+ — new disk\n$/)
  const dec = await run('intent', 'set', 'label:web-01', '--decision', '{"kind":"shell"}', '--expires', new Date(Date.now() + 10 * 86400_000).toISOString())
  t.equal(dec.code, 0, dec.err)
  const list = await run('intent', 'list', '--format', 'json')
  t.equal(list.code, 0, list.err)
  const listed = JSON.parse(list.out)
  t.same(listed.active.map((i: { machine: string }) => i.machine).sort(), ['label:web-01', 'mac:52:54:00:aa:bb:01'])
  t.equal((await run('intent', 'clear', 'mac:52:54:00:aa:bb:01')).code, 0)
  const text = await run('intent', 'list')
  t.match(text.out, /armed \(1\):\n {2}label:web-01 decision \{"kind":"shell"\}/)
  t.match(text.out, /ended \(newest 1 of 1\):\n {2}mac:52:54:00:aa:bb:01 profile debian-12 — cleared: cleared by an operator/)

  const again = await run('intent', 'clear', 'mac:52:54:00:aa:bb:01')
  t.equal(again.code, 1)
  t.match(again.err, /BP_ERR_INTENT_NOT_FOUND: No intent is armed for mac:52:54:00:aa:bb:01/)
  const bad = await run('intent', 'set', 'mac:nope', '--profile', 'x', '--expires', '1h')
  t.equal(bad.code, 1)
  t.match(bad.err, /BP_ERR_INTENT_INVALID/)
  const noExpiry = await run('intent', 'set', 'mac:52:54:00:aa:bb:01', '--profile', 'x')
  t.equal(noExpiry.code, 2)
  t.match(noExpiry.err, /--expires is required/)
  const wrong = await runCliAsync(['intent', 'list', '--server', address], dir, { BOOTPOLICY_ADMIN_TOKEN: 'wrong-token' })
  t.equal(wrong.code, 1)
  t.match(wrong.err, /BP_ERR_HTTP_UNAUTHORIZED/)
  const down = await runCliAsync(['intent', 'list', '--server', 'http://127.0.0.1:9'], dir, { BOOTPOLICY_ADMIN_TOKEN: ADMIN })
  t.equal(down.code, 2)
  t.match(down.err, /cannot reach the server at http:\/\/127\.0\.0\.1:9/)
  t.notOk(`${set.out}${set.err}${list.out}${wrong.err}`.includes(ADMIN), 'the admin token is never printed')
})
